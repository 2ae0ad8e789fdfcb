#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pkt.h"

__thread struct pkt_pool *pkt_pool_cur;

struct pkt_pool *pkt_pool_create(const char *name, uint32_t n)
{
	struct pkt_pool *pool = calloc(1, sizeof(*pool));
	size_t bytes = (size_t)n * sizeof(struct pkt);

	if (!pool)
		return NULL;
	pool->free = calloc(n, sizeof(*pool->free));
	if (!pool->free)
		goto err_pool;
	/* Anonymous mmap so the buffers are page aligned and only touched
	 * pages become resident. */
	pool->mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pool->mem == MAP_FAILED)
		goto err_free;
	pool->size = n;
	for (uint32_t i = 0; i < n; i++) {
		struct pkt *p = (struct pkt *)((char *)pool->mem + (size_t)i * sizeof(struct pkt));
		p->pool = pool;
		pool->free[i] = p;
	}
	pool->n_free = n;
	snprintf(pool->name, sizeof(pool->name), "%s", name);
	return pool;

err_free:
	free(pool->free);
err_pool:
	free(pool);
	errno = ENOMEM;
	return NULL;
}

void pkt_pool_destroy(struct pkt_pool *pool)
{
	if (!pool)
		return;
	munmap(pool->mem, (size_t)pool->size * sizeof(struct pkt));
	free(pool->free);
	free(pool);
}

void pkt_pool_set_thread(struct pkt_pool *pool)
{
	pkt_pool_cur = pool;
}

struct pkt_pool *pkt_pool_thread(void)
{
	return pkt_pool_cur;
}

uint32_t pkt_pool_avail(const struct pkt_pool *pool)
{
	return pool->n_free;
}

struct pkt *pkt_clone(const struct pkt *p)
{
	struct pkt *c = pkt_alloc();

	if (unlikely(!c))
		return NULL;
	c->data = c->buf + (p->data - p->buf);
	memcpy(c->data, p->data, p->len);
	c->len = p->len;
	c->in_port = p->in_port;
	c->flags = p->flags;
	c->csum_start = p->csum_start;
	c->csum_offset = p->csum_offset;
	if (p->flags & PKT_F_TUN)
		c->tun = p->tun;
	c->gso_size = p->gso_size;
	c->gso_type = p->gso_type;
	c->l3_off = p->l3_off;
	c->l4_off = p->l4_off;
	c->hash = p->hash;
	memcpy(c->meta, p->meta, sizeof(c->meta));
	return c;
}
