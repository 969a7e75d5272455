/*
 * kv_plugin.h: a feature plugin for engine tests (FPT 0x7F01, unregistered,
 * tests only).  Each node's instance holds named items per MN; an item is
 * active, frozen (handed over, waiting for the verdict) or quarantined
 * (the verdict never came: PROFILE 5.1's "out of the datapath").
 *
 * Configuration (the value tree given at load):
 *   {"fetch": ["s1", ...],                   sources a pAR collects from
 *    "relay": [{"prefix": "s1:", "peer": "s1p"}, ...],  where a sink sends items
 *    "fail_install": 1}                      refuse every install (0x06)
 */
#ifndef KV_PLUGIN_H
#define KV_PLUGIN_H

#include "ctp/ctp_feature.h"

#define KV_FPT 0x7F01

enum kv_item_state { KV_ACTIVE = 0, KV_FROZEN, KV_QUARANTINED };

extern const struct ctp_feature kv_feature;

/* The instance a node loaded (from its registry). */
struct kv_state;
struct kv_state *kv_of(struct ctp_registry *reg);

int kv_add(struct kv_state *s, const struct ctp_addr *mn, const char *name, uint32_t value);
/* The state of an item, or -1 when the node does not hold it. */
int kv_get(struct kv_state *s, const struct ctp_addr *mn, const char *name);
size_t kv_count(struct kv_state *s, const struct ctp_addr *mn);
void kv_set_fail_install(struct kv_state *s, int on);
/* Called at the start of every install (tests inject faults there). */
void kv_on_install(struct kv_state *s, void (*fn)(void *arg), void *arg);
/* collect and done calls so far (to check that every collect gets its done) */
void kv_calls(struct kv_state *s, unsigned *collects, unsigned *source_dones,
    unsigned *installs, unsigned *sink_dones);

#endif
