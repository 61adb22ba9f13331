/* QEMU 7.2 TCG plugin (API version 1): counts the guest instructions executed in each
 * *part* of a program, in one run. A part begins when execution reaches one of the trigger
 * addresses listed in a file and lasts until the next trigger; every instruction in
 * between, callees and the Go runtime included, is the part's. bench/icount-parts.sh
 * points the triggers at marker functions of bench/icount and at the entry of the window
 * model's forward pass, which makes this an inclusive profile by pipeline stage.
 *
 *   gcc -O2 -shared -fPIC -o libparts.so parts.c
 *   qemu-aarch64 -plugin ./libparts.so,triggers=FILE -d plugin PROGRAM ...
 *
 * FILE has one trigger per line: an address (0x... or decimal) and a part number
 * (0-15). Part 0 runs from the start until the first trigger. At exit it prints
 * "parts: total=N p0=N p1=N ... p15=N".
 *
 * The total is counted per translation block at its entry (as ../shared/tools/qemu-icount
 * does), and a trigger reads it when its own instruction runs, so up to one block's
 * instructions (a few dozen) go to the part before each switch; with about a hundred
 * switches per second of audio that is far below 0.1 M. Counters are not atomic: run the
 * program with GOMAXPROCS=1. Declarations mirror QEMU 7.2's include/qemu/qemu-plugin.h;
 * Debian's qemu-user ships no plugin headers. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

#define MAXPARTS 16
#define MAXTRIG 64

static uint64_t total, last, counts[MAXPARTS];
static uintptr_t cur;
static uint64_t trig_addr[MAXTRIG];
static uintptr_t trig_part[MAXTRIG];
static int ntrig;

static void on_trigger(unsigned int vcpu, void *udata) {
    counts[cur] += total - last;
    last = total;
    cur = (uintptr_t)udata;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total, n);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *in = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(in);
        for (int t = 0; t < ntrig; t++) {
            if (pc == trig_addr[t])
                qemu_plugin_register_vcpu_insn_exec_cb(in, on_trigger, QEMU_PLUGIN_CB_NO_REGS, (void *)trig_part[t]);
        }
    }
}

static void at_exit(qemu_plugin_id_t id, void *p) {
    char buf[64 + MAXPARTS * 32];
    counts[cur] += total - last;
    last = total;
    int k = snprintf(buf, sizeof buf, "parts: total=%llu", (unsigned long long)total);
    for (int i = 0; i < MAXPARTS; i++)
        k += snprintf(buf + k, sizeof buf - k, " p%d=%llu", i, (unsigned long long)counts[i]);
    snprintf(buf + k, sizeof buf - k, "\n");
    qemu_plugin_outs(buf);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "triggers=", 9))
            continue;
        FILE *f = fopen(argv[i] + 9, "r");
        if (!f) {
            fprintf(stderr, "parts: cannot open %s\n", argv[i] + 9);
            return -1;
        }
        char addr[64];
        unsigned part;
        while (ntrig < MAXTRIG && fscanf(f, "%63s %u", addr, &part) == 2) {
            if (part >= MAXPARTS) {
                fprintf(stderr, "parts: part %u out of range 0-%d\n", part, MAXPARTS - 1);
                fclose(f);
                return -1;
            }
            trig_addr[ntrig] = strtoull(addr, NULL, 0);
            trig_part[ntrig] = part;
            ntrig++;
        }
        fclose(f);
    }
    if (ntrig == 0) {
        fprintf(stderr, "parts: no triggers (pass triggers=FILE)\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
