/*
 * Helpers for the port kinds backed by a kernel network device (tap,
 * af_packet): interface flags and the `show` fields they share.
 * Control-thread only.
 */
#ifndef XVIO_PORT_NETDEV_H
#define XVIO_PORT_NETDEV_H

#include <stdbool.h>

#include <jansson.h>

/* The IFF_* flags of ifname, or -errno. */
int netdev_get_flags(const char *ifname);
/* Set IFF_UP on ifname; 0 or -errno. */
int netdev_set_up(const char *ifname);
/* IFF_UP and IFF_RUNNING both set. */
bool netdev_link_up(const char *ifname);
/* "dev", "ifindex", "link" ("up"/"down"/"admin-down"/"gone") into obj.
 * (Promiscuity a packet socket requests is not visible in the flags.) */
void netdev_show(const char *ifname, json_t *obj);
/* Find "dev=IFNAME" in args; anything else is an error. 0 or -errno with a
 * reason in err. */
int netdev_parse_args(int argc, char **argv, char *ifname, size_t len, char *err, size_t errlen);

#endif
