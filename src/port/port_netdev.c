/*
 * Interface helpers shared by the tap and af_packet kinds.
 */
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/core.h"
#include "port_netdev.h"

static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, req, ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

int netdev_get_flags(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int err;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	err = ifreq_ioctl(SIOCGIFFLAGS, &ifr);
	return err ? err : (int)(unsigned short)ifr.ifr_flags;
}

int netdev_set_up(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int err;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	err = ifreq_ioctl(SIOCGIFFLAGS, &ifr);
	if (err || (ifr.ifr_flags & IFF_UP))
		return err;
	ifr.ifr_flags |= IFF_UP;
	return ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}

bool netdev_link_up(const char *ifname)
{
	int f = netdev_get_flags(ifname);

	return f >= 0 && (f & IFF_UP) && (f & IFF_RUNNING);
}

void netdev_show(const char *ifname, json_t *obj)
{
	int f = netdev_get_flags(ifname);
	const char *link = f < 0 ? "gone" : !(f & IFF_UP) ? "admin-down" :
			   !(f & IFF_RUNNING) ? "down" : "up";

	json_object_set_new(obj, "dev", json_string(ifname));
	json_object_set_new(obj, "ifindex", json_integer(if_nametoindex(ifname)));
	json_object_set_new(obj, "link", json_string(link));
}

int netdev_parse_args(int argc, char **argv, char *ifname, size_t len, char *err, size_t errlen)
{
	ifname[0] = 0;
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "dev=", 4)) {
			const char *v = argv[i] + 4;

			if (!*v || strlen(v) >= IFNAMSIZ || strlen(v) >= len || strchr(v, '/')) {
				snprintf(err, errlen, "dev=%s: invalid interface name", v);
				return -EINVAL;
			}
			snprintf(ifname, len, "%s", v);
		} else {
			snprintf(err, errlen, "%s: unknown argument (expected dev=IFNAME)", argv[i]);
			return -EINVAL;
		}
	}
	if (!ifname[0]) {
		snprintf(err, errlen, "missing dev=IFNAME");
		return -EINVAL;
	}
	return 0;
}
