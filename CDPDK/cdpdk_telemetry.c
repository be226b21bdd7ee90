#include "cdpdk_telemetry.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <rte_config.h>
#include <rte_telemetry.h>

#define CDPDK_TEL_MAX_CMDS 16
#define CDPDK_TEL_MAX_CMD_LEN 64

static struct {
    char cmd[CDPDK_TEL_MAX_CMD_LEN];
    char *snapshot;
} cdpdk_tel_cmds[CDPDK_TEL_MAX_CMDS];
static int cdpdk_tel_count;
static pthread_mutex_t cdpdk_tel_lock = PTHREAD_MUTEX_INITIALIZER;

/// A copy of the snapshot of `cmd` (caller frees), or NULL.
static char *cdpdk_tel_copy(const char *cmd) {
    char *out = NULL;
    pthread_mutex_lock(&cdpdk_tel_lock);
    for (int i = 0; i < cdpdk_tel_count; i++) {
        if (strcmp(cdpdk_tel_cmds[i].cmd, cmd) == 0) {
            if (cdpdk_tel_cmds[i].snapshot != NULL)
                out = strdup(cdpdk_tel_cmds[i].snapshot);
            break;
        }
    }
    pthread_mutex_unlock(&cdpdk_tel_lock);
    return out;
}

/// Adds one "u|i|s <key> <value>" entry to `d`.
static void cdpdk_tel_add(struct rte_tel_data *d, char kind, const char *key, const char *value) {
    switch (kind) {
    case 'u': rte_tel_data_add_dict_u64(d, key, strtoull(value, NULL, 10)); break;
    case 'i': rte_tel_data_add_dict_int(d, key, (int)strtol(value, NULL, 10)); break;
    case 's': rte_tel_data_add_dict_string(d, key, value); break;
    default: break;
    }
}

/// Runs on DPDK's telemetry thread.
static int cdpdk_tel_callback(const char *cmd, const char *params, struct rte_tel_data *d) {
    (void)params;
    rte_tel_data_start_dict(d);
    char *snap = cdpdk_tel_copy(cmd);
    if (snap == NULL)
        return 0;
    struct rte_tel_data *nested = NULL;
    char nested_key[CDPDK_TEL_MAX_CMD_LEN * 2] = "";
    char *save = NULL;
    for (char *line = strtok_r(snap, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char kind = line[0];
        if (kind == '}') {
            if (nested != NULL && rte_tel_data_add_dict_container(d, nested_key, nested, 0) != 0)
                rte_tel_data_free(nested);
            nested = NULL;
            continue;
        }
        if (line[1] != '\t')
            continue;
        char *key = line + 2;
        char *tab = strchr(key, '\t');
        char *value = "";
        if (tab != NULL) {
            *tab = '\0';
            value = tab + 1;
        }
        if (kind == '{') {
            if (nested != NULL)   // no nesting deeper than one level
                continue;
            nested = rte_tel_data_alloc();
            if (nested == NULL)
                break;
            rte_tel_data_start_dict(nested);
            strncpy(nested_key, key, sizeof(nested_key) - 1);
            nested_key[sizeof(nested_key) - 1] = '\0';
            continue;
        }
        cdpdk_tel_add(nested != NULL ? nested : d, kind, key, value);
    }
    if (nested != NULL && rte_tel_data_add_dict_container(d, nested_key, nested, 0) != 0)
        rte_tel_data_free(nested);
    free(snap);
    return 0;
}

int cdpdk_telemetry_register(const char *cmd, const char *help) {
    if (strlen(cmd) >= CDPDK_TEL_MAX_CMD_LEN)
        return -EINVAL;
    pthread_mutex_lock(&cdpdk_tel_lock);
    int known = 0;
    for (int i = 0; i < cdpdk_tel_count; i++)
        if (strcmp(cdpdk_tel_cmds[i].cmd, cmd) == 0)
            known = 1;
    if (!known) {
        if (cdpdk_tel_count == CDPDK_TEL_MAX_CMDS) {
            pthread_mutex_unlock(&cdpdk_tel_lock);
            return -ENOSPC;
        }
        strcpy(cdpdk_tel_cmds[cdpdk_tel_count].cmd, cmd);
        cdpdk_tel_cmds[cdpdk_tel_count].snapshot = NULL;
        cdpdk_tel_count++;
    }
    pthread_mutex_unlock(&cdpdk_tel_lock);
    return known ? 0 : rte_telemetry_register_cmd(cmd, cdpdk_tel_callback, help);
}

int cdpdk_telemetry_set(const char *cmd, const char *snapshot) {
    char *copy = strdup(snapshot);
    if (copy == NULL)
        return -ENOMEM;
    char *old = NULL;
    int rc = -ENOENT;
    pthread_mutex_lock(&cdpdk_tel_lock);
    for (int i = 0; i < cdpdk_tel_count; i++) {
        if (strcmp(cdpdk_tel_cmds[i].cmd, cmd) == 0) {
            old = cdpdk_tel_cmds[i].snapshot;
            cdpdk_tel_cmds[i].snapshot = copy;
            copy = NULL;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&cdpdk_tel_lock);
    free(old);
    free(copy);
    return rc;
}
