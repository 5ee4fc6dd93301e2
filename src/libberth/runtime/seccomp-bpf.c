#include "seccomp-bpf.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/macro.h"

/* Docker's default profile explores to ~2500 boxes; far more means a
 * program shape this rewrite is not meant for. */
#define MAX_BOXES 65536

/* A conditional jump reaches at most 255 instructions ahead; a flat search
 * tree plus its pool of outcomes is kept below that. */
#define FLAT_MAX 250

enum field { F_NR = 0, F_ARCH = 1, F_NONE = -1 };

enum outcome_kind { OUT_RET, OUT_RESIDUAL, OUT_BLOCK };

struct outcome {
    uint32_t kind; /* enum outcome_kind */
    uint32_t v;    /* RET: k; RESIDUAL: pc of the entry; BLOCK: block index */
};

/* One cell of the partition of (nr, arch) pairs: every pair in it takes
 * the same path through the arch/nr prefix of the program. */
struct box {
    uint32_t lo[2], hi[2]; /* indexed by enum field */
    struct outcome out;
};

struct boxes {
    struct box *v;
    size_t n, alloc;
};

/* An interval of numbers [lo, next seg's lo - 1] with one outcome. */
struct seg {
    uint32_t lo;
    struct outcome out;
};

struct segs {
    struct seg *v;
    size_t n, alloc;
};

static bool outcome_eq(struct outcome a, struct outcome b)
{
    return a.kind == b.kind && a.v == b.v;
}

static int box_add(struct boxes *b, const uint32_t lo[2], const uint32_t hi[2], struct outcome out)
{
    if (b->n >= MAX_BOXES) {
        return -E2BIG;
    }
    b->v = xgrow(b->v, sizeof(*b->v), b->n, &b->alloc);
    b->v[b->n++] = (struct box){{lo[0], lo[1]}, {hi[0], hi[1]}, out};
    return 0;
}

/* Run prog from pc with nr and arch known only to lie in [lo, hi], A
 * holding `a` (a field or nothing yet), splitting the intervals at every
 * comparison. The kernel accepted no backward jump, so this ends; each
 * call handles one branch by recursion and continues with the other. */
static int explore(const struct sock_filter *prog, size_t n, size_t pc, uint32_t lo_in[2],
                   uint32_t hi_in[2], int a, struct boxes *out)
{
    uint32_t lo[2] = {lo_in[0], lo_in[1]}, hi[2] = {hi_in[0], hi_in[1]};
    for (;;) {
        if (pc >= n) {
            return -EINVAL;
        }
        const struct sock_filter *f = &prog[pc];
        switch (f->code) {
        case BPF_LD | BPF_W | BPF_ABS:
            if (f->k == offsetof(struct seccomp_data, nr)) {
                a = F_NR;
            } else if (f->k == offsetof(struct seccomp_data, arch)) {
                a = F_ARCH;
            } else if (f->k >= offsetof(struct seccomp_data, instruction_pointer) &&
                       f->k < sizeof(struct seccomp_data) && f->k % 4 == 0) {
                return box_add(out, lo, hi, (struct outcome){OUT_RESIDUAL, (uint32_t)pc});
            } else {
                return -EOPNOTSUPP;
            }
            pc++;
            continue;
        case BPF_RET | BPF_K:
            return box_add(out, lo, hi, (struct outcome){OUT_RET, f->k});
        case BPF_JMP | BPF_JA:
            if (f->k >= n) {
                return -EINVAL;
            }
            pc += 1 + (size_t)f->k;
            continue;
        case BPF_JMP | BPF_JEQ | BPF_K:
        case BPF_JMP | BPF_JGT | BPF_K:
        case BPF_JMP | BPF_JGE | BPF_K:
            break;
        default:
            /* ALU on nr or arch, JSET, X, scratch memory, RET A: the
             * interval argument no longer holds. */
            return -EOPNOTSUPP;
        }
        if (a == F_NONE) {
            return -EOPNOTSUPP;
        }
        uint32_t l = lo[a], h = hi[a], k = f->k;
        /* True part [tl, th], false parts [fl[i], fh[i]]; empty when lo > hi. */
        uint32_t tl = 1, th = 0, fl[2] = {1, 1}, fh[2] = {0, 0};
        switch (BPF_OP(f->code)) {
        case BPF_JEQ:
            if (k >= l && k <= h) {
                tl = th = k;
                if (k > l) {
                    fl[0] = l, fh[0] = k - 1;
                }
                if (k < h) {
                    fl[1] = k + 1, fh[1] = h;
                }
            } else {
                fl[0] = l, fh[0] = h;
            }
            break;
        case BPF_JGT:
            if (h > k) {
                tl = l > k ? l : k + 1, th = h;
            }
            if (l <= k) {
                fl[0] = l, fh[0] = h < k ? h : k;
            }
            break;
        default: /* BPF_JGE */
            if (h >= k) {
                tl = l > k ? l : k, th = h;
            }
            if (l < k) {
                fl[0] = l, fh[0] = h < k - 1 ? h : k - 1;
            }
            break;
        }
        size_t pt = pc + 1 + f->jt, pf = pc + 1 + f->jf;
        if (tl <= th) {
            lo[a] = tl, hi[a] = th;
            int r = explore(prog, n, pt, lo, hi, a, out);
            if (r < 0) {
                return r;
            }
        }
        if (fl[1] <= fh[1]) {
            lo[a] = fl[1], hi[a] = fh[1];
            int r = explore(prog, n, pf, lo, hi, a, out);
            if (r < 0) {
                return r;
            }
        }
        if (fl[0] > fh[0]) {
            return 0;
        }
        lo[a] = fl[0], hi[a] = fh[0];
        pc = pf;
    }
}

static int partition(const struct sock_filter *prog, size_t n, struct boxes *out)
{
    uint32_t lo[2] = {0, 0}, hi[2] = {UINT32_MAX, UINT32_MAX};
    return explore(prog, n, 0, lo, hi, F_NONE, out);
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int box_nr_cmp(const void *a, const void *b)
{
    const struct box *x = *(const struct box *const *)a, *y = *(const struct box *const *)b;
    return x->lo[F_NR] < y->lo[F_NR] ? -1 : x->lo[F_NR] > y->lo[F_NR];
}

static void seg_push(struct segs *s, uint32_t lo, struct outcome out)
{
    if (s->n > 0 && outcome_eq(s->v[s->n - 1].out, out)) {
        return; /* the previous interval simply extends */
    }
    s->v = xgrow(s->v, sizeof(*s->v), s->n, &s->alloc);
    s->v[s->n++] = (struct seg){lo, out};
}

/* The nr intervals of the boxes that hold arch == a, merged. */
static int nr_segs_for_arch(const struct boxes *b, uint32_t a, struct segs *ret)
{
    _cleanup_free_ const struct box **sel = xcalloc(b->n, sizeof(*sel));
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->v[i].lo[F_ARCH] <= a && a <= b->v[i].hi[F_ARCH]) {
            sel[m++] = &b->v[i];
        }
    }
    qsort(sel, m, sizeof(*sel), box_nr_cmp);
    struct segs s = {0};
    uint64_t next = 0;
    for (size_t i = 0; i < m; i++) {
        /* The exploration splits exhaustively: the boxes tile nr exactly. */
        if (sel[i]->lo[F_NR] != next) {
            free(s.v);
            return -EPROTO;
        }
        seg_push(&s, sel[i]->lo[F_NR], sel[i]->out);
        next = (uint64_t)sel[i]->hi[F_NR] + 1;
    }
    if (next != (uint64_t)UINT32_MAX + 1) {
        free(s.v);
        return -EPROTO;
    }
    *ret = s;
    return 0;
}

/* ---- assembly with labels ------------------------------------------------ */

struct pinsn {
    struct sock_filter f;
    int jt, jf; /* labels of conditional targets, or -1 */
    int ja;     /* label of a BPF_JA target, or -1 */
};

struct asm_prog {
    struct pinsn *v;
    size_t n, alloc;
    size_t *label_pos; /* SIZE_MAX: not placed yet */
    size_t n_labels, alloc_labels;
};

static int label_new(struct asm_prog *p)
{
    p->label_pos = xgrow(p->label_pos, sizeof(*p->label_pos), p->n_labels, &p->alloc_labels);
    p->label_pos[p->n_labels] = SIZE_MAX;
    return (int)p->n_labels++;
}

static void label_place(struct asm_prog *p, int label)
{
    p->label_pos[label] = p->n;
}

static size_t emit(struct asm_prog *p, uint16_t code, uint32_t k, int jt, int jf, int ja)
{
    p->v = xgrow(p->v, sizeof(*p->v), p->n, &p->alloc);
    p->v[p->n] = (struct pinsn){.f = {.code = code, .k = k}, .jt = jt, .jf = jf, .ja = ja};
    return p->n++;
}

/* Where each outcome kind leads: labels of blocks and residual entries. */
struct targets {
    int *block_label;
    int *pc_label; /* per original pc, -1 until referenced */
};

static int target_label(struct asm_prog *p, struct targets *t, struct outcome out)
{
    if (out.kind == OUT_BLOCK) {
        return t->block_label[out.v];
    }
    if (t->pc_label[out.v] < 0) {
        t->pc_label[out.v] = label_new(p);
    }
    return t->pc_label[out.v];
}

struct pool {
    struct outcome out[FLAT_MAX];
    int label[FLAT_MAX];
    size_t n;
};

static int pool_label(struct asm_prog *p, struct pool *pool, struct outcome out)
{
    for (size_t i = 0; i < pool->n; i++) {
        if (outcome_eq(pool->out[i], out)) {
            return pool->label[i];
        }
    }
    pool->out[pool->n] = out;
    pool->label[pool->n] = label_new(p);
    return pool->label[pool->n++];
}

static size_t distinct_outcomes(const struct segs *s, size_t lo, size_t hi, size_t cap)
{
    struct outcome seen[FLAT_MAX];
    size_t n = 0;
    for (size_t i = lo; i <= hi; i++) {
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++) {
            dup = outcome_eq(seen[j], s->v[i].out);
        }
        if (!dup) {
            if (n == cap || n == FLAT_MAX) {
                return SIZE_MAX;
            }
            seen[n++] = s->v[i].out;
        }
    }
    return n;
}

/* A balanced tree of JGE over segs lo..hi; leaves are pool labels, so a
 * tree of m intervals costs m - 1 instructions. Returns the root's label. */
static int emit_node(struct asm_prog *p, struct pool *pool, const struct segs *s, size_t lo,
                     size_t hi)
{
    if (lo == hi) {
        return pool_label(p, pool, s->v[lo].out);
    }
    size_t mid = lo + (hi - lo + 1) / 2;
    int self = label_new(p);
    label_place(p, self);
    size_t at = emit(p, BPF_JMP | BPF_JGE | BPF_K, s->v[mid].lo, -1, -1, -1);
    int left = emit_node(p, pool, s, lo, mid - 1);
    int right = emit_node(p, pool, s, mid, hi);
    p->v[at].jt = right;
    p->v[at].jf = left;
    return self;
}

/* Search segs lo..hi for the value in A. Subtrees too large for 8-bit jump
 * offsets are split at the top with a JGE over a BPF_JA (32-bit offset). */
static void emit_range(struct asm_prog *p, struct targets *t, const struct segs *s, size_t lo,
                       size_t hi)
{
    size_t distinct = hi - lo < FLAT_MAX ? distinct_outcomes(s, lo, hi, FLAT_MAX) : SIZE_MAX;
    if (distinct != SIZE_MAX && (hi - lo) + distinct <= FLAT_MAX) {
        struct pool pool = {.n = 0};
        (void)emit_node(p, &pool, s, lo, hi);
        for (size_t i = 0; i < pool.n; i++) {
            label_place(p, pool.label[i]);
            if (pool.out[i].kind == OUT_RET) {
                emit(p, BPF_RET | BPF_K, pool.out[i].v, -1, -1, -1);
            } else {
                emit(p, BPF_JMP | BPF_JA, 0, -1, -1, target_label(p, t, pool.out[i]));
            }
        }
        return;
    }
    size_t mid = lo + (hi - lo + 1) / 2;
    int l_far = label_new(p), l_left = label_new(p), l_right = label_new(p);
    emit(p, BPF_JMP | BPF_JGE | BPF_K, s->v[mid].lo, l_far, l_left, -1);
    label_place(p, l_far);
    emit(p, BPF_JMP | BPF_JA, 0, -1, -1, l_right);
    label_place(p, l_left);
    emit_range(p, t, s, lo, mid - 1);
    label_place(p, l_right);
    emit_range(p, t, s, mid, hi);
}

/* Resolve labels into offsets; -E2BIG if a conditional jump cannot reach. */
static int assemble(const struct asm_prog *p, struct sock_filter **ret, size_t *ret_n)
{
    if (p->n == 0 || p->n > BPF_MAXINSNS) {
        return -E2BIG;
    }
    _cleanup_free_ struct sock_filter *out = xcalloc(p->n, sizeof(*out));
    for (size_t i = 0; i < p->n; i++) {
        const struct pinsn *in = &p->v[i];
        out[i] = in->f;
        if (in->ja >= 0) {
            size_t to = p->label_pos[in->ja];
            if (to == SIZE_MAX || to <= i) {
                return -EPROTO;
            }
            out[i].k = (uint32_t)(to - i - 1);
        }
        if (in->jt >= 0) {
            size_t tt = p->label_pos[in->jt], tf = p->label_pos[in->jf];
            if (tt == SIZE_MAX || tf == SIZE_MAX || tt <= i || tf <= i) {
                return -EPROTO;
            }
            if (tt - i - 1 > 255 || tf - i - 1 > 255) {
                return -E2BIG;
            }
            out[i].jt = (uint8_t)(tt - i - 1);
            out[i].jf = (uint8_t)(tf - i - 1);
        }
    }
    *ret = TAKE_PTR(out);
    *ret_n = p->n;
    return 0;
}

/* Mark every instruction reachable from the residual entries. */
static int mark_residual(const struct sock_filter *prog, size_t n, bool *reach)
{
    /* Jumps only go forward: one pass in order finds the closure. */
    for (size_t i = 0; i < n; i++) {
        if (!reach[i]) {
            continue;
        }
        const struct sock_filter *f = &prog[i];
        if (BPF_CLASS(f->code) == BPF_RET) {
            continue;
        }
        if (BPF_CLASS(f->code) != BPF_JMP) {
            if (i + 1 >= n) {
                return -EINVAL;
            }
            reach[i + 1] = true;
        } else if (BPF_OP(f->code) == BPF_JA) {
            if (f->k >= n - i - 1) {
                return -EINVAL;
            }
            reach[i + 1 + f->k] = true;
        } else {
            if (i + 1 + f->jt >= n || i + 1 + f->jf >= n) {
                return -EINVAL;
            }
            reach[i + 1 + f->jt] = true;
            reach[i + 1 + f->jf] = true;
        }
    }
    return 0;
}

/* The new program's (arch, nr) partition must agree with the original's
 * on every pair; residual entries are compared through `back` (new pc ->
 * original pc). The copied residual code must jump where the original did. */
static int self_check(const struct sock_filter *orig, const struct boxes *ob,
                      const struct sock_filter *prog, size_t n, const size_t *back)
{
    for (size_t i = 0; i < n; i++) {
        if (back[i] == SIZE_MAX) {
            continue;
        }
        const struct sock_filter *f = &prog[i], *g = &orig[back[i]];
        if (f->code != g->code || (BPF_CLASS(f->code) != BPF_JMP && f->k != g->k)) {
            return -EPROTO;
        }
        if (BPF_CLASS(f->code) != BPF_JMP) {
            continue;
        }
        if (BPF_OP(f->code) == BPF_JA) {
            if (back[i + 1 + f->k] != back[i] + 1 + g->k) {
                return -EPROTO;
            }
        } else if (f->k != g->k || back[i + 1 + f->jt] != back[i] + 1 + g->jt ||
                   back[i + 1 + f->jf] != back[i] + 1 + g->jf) {
            return -EPROTO;
        }
    }
    struct boxes nb = {0};
    int r = partition(prog, n, &nb);
    for (size_t i = 0; r >= 0 && i < nb.n; i++) {
        const struct box *x = &nb.v[i];
        struct outcome want = x->out;
        if (want.kind == OUT_RESIDUAL) {
            if (back[want.v] == SIZE_MAX) {
                r = -EPROTO;
                break;
            }
            want.v = (uint32_t)back[want.v];
        }
        for (size_t j = 0; j < ob->n; j++) {
            const struct box *y = &ob->v[j];
            if (y->lo[F_NR] > x->hi[F_NR] || x->lo[F_NR] > y->hi[F_NR] ||
                y->lo[F_ARCH] > x->hi[F_ARCH] || x->lo[F_ARCH] > y->hi[F_ARCH]) {
                continue;
            }
            if (!outcome_eq(y->out, want)) {
                r = -EPROTO;
                break;
            }
        }
    }
    free(nb.v);
    return r < 0 ? r : 0;
}

struct rewrite {
    struct boxes boxes;
    uint32_t *arch_bp;
    struct segs arch;
    struct segs *blocks;
    size_t n_blocks, alloc_blocks;
    struct asm_prog asm_;
    struct targets t;
    bool *reach;
    size_t *back;
};

static void rewrite_release(struct rewrite *w)
{
    free(w->boxes.v);
    free(w->arch_bp);
    free(w->arch.v);
    for (size_t i = 0; i < w->n_blocks; i++) {
        free(w->blocks[i].v);
    }
    free(w->blocks);
    free(w->asm_.v);
    free(w->asm_.label_pos);
    free(w->t.block_label);
    free(w->t.pc_label);
    free(w->reach);
    free(w->back);
}

/* The outcome for one arch interval: a RET or residual if nr does not
 * matter, else the block (deduplicated) that searches nr. */
static struct outcome arch_outcome(struct rewrite *w, struct segs *nr)
{
    if (nr->n == 1) {
        struct outcome o = nr->v[0].out;
        free(nr->v);
        return o;
    }
    for (size_t b = 0; b < w->n_blocks; b++) {
        if (w->blocks[b].n == nr->n && memcmp(w->blocks[b].v, nr->v, nr->n * sizeof(*nr->v)) == 0) {
            free(nr->v);
            return (struct outcome){OUT_BLOCK, (uint32_t)b};
        }
    }
    w->blocks = xgrow(w->blocks, sizeof(*w->blocks), w->n_blocks, &w->alloc_blocks);
    w->blocks[w->n_blocks] = *nr;
    return (struct outcome){OUT_BLOCK, (uint32_t)w->n_blocks++};
}

int seccomp_bpf_rewrite(const struct sock_filter *in, size_t n, struct sock_filter **ret,
                        size_t *ret_n)
{
    if (n == 0 || n > BPF_MAXINSNS) {
        return -EINVAL;
    }
    _cleanup_(rewrite_release) struct rewrite w = {0};
    int r = partition(in, n, &w.boxes);
    if (r < 0) {
        return r;
    }

    /* Arch intervals: every arch bound of a box starts one. */
    w.arch_bp = xcalloc(2 * w.boxes.n + 1, sizeof(*w.arch_bp));
    size_t m = 0;
    w.arch_bp[m++] = 0;
    for (size_t i = 0; i < w.boxes.n; i++) {
        w.arch_bp[m++] = w.boxes.v[i].lo[F_ARCH];
        if (w.boxes.v[i].hi[F_ARCH] != UINT32_MAX) {
            w.arch_bp[m++] = w.boxes.v[i].hi[F_ARCH] + 1;
        }
    }
    qsort(w.arch_bp, m, sizeof(*w.arch_bp), u32_cmp);
    for (size_t i = 0; i < m; i++) {
        if (i > 0 && w.arch_bp[i] == w.arch_bp[i - 1]) {
            continue;
        }
        struct segs nr = {0};
        r = nr_segs_for_arch(&w.boxes, w.arch_bp[i], &nr);
        if (r < 0) {
            return r;
        }
        seg_push(&w.arch, w.arch_bp[i], arch_outcome(&w, &nr));
    }

    struct asm_prog *p = &w.asm_;
    w.t.block_label = xcalloc(w.n_blocks + 1, sizeof(int));
    for (size_t b = 0; b < w.n_blocks; b++) {
        w.t.block_label[b] = label_new(p);
    }
    w.t.pc_label = xmalloc(n * sizeof(int));
    for (size_t i = 0; i < n; i++) {
        w.t.pc_label[i] = -1;
    }

    emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), -1, -1, -1);
    emit_range(p, &w.t, &w.arch, 0, w.arch.n - 1);
    for (size_t b = 0; b < w.n_blocks; b++) {
        label_place(p, w.t.block_label[b]);
        emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), -1, -1, -1);
        emit_range(p, &w.t, &w.blocks[b], 0, w.blocks[b].n - 1);
    }

    /* The residual code, copied in its original order: jumps only get
     * shorter, and each lands on the copy of its original target. */
    w.reach = xcalloc(n, sizeof(*w.reach));
    for (size_t i = 0; i < n; i++) {
        w.reach[i] = w.t.pc_label[i] >= 0;
    }
    r = mark_residual(in, n, w.reach);
    if (r < 0) {
        return r;
    }
    size_t first_copy = p->n;
    for (size_t i = 0; i < n; i++) {
        if (!w.reach[i]) {
            continue;
        }
        if (w.t.pc_label[i] >= 0) {
            label_place(p, w.t.pc_label[i]);
        }
        const struct sock_filter *f = &in[i];
        if (BPF_CLASS(f->code) != BPF_JMP) {
            emit(p, f->code, f->k, -1, -1, -1);
        } else if (BPF_OP(f->code) == BPF_JA) {
            emit(p, f->code, 0, -1, -1,
                 target_label(p, &w.t, (struct outcome){OUT_RESIDUAL, (uint32_t)(i + 1 + f->k)}));
        } else {
            int jt =
                target_label(p, &w.t, (struct outcome){OUT_RESIDUAL, (uint32_t)(i + 1 + f->jt)});
            int jf =
                target_label(p, &w.t, (struct outcome){OUT_RESIDUAL, (uint32_t)(i + 1 + f->jf)});
            emit(p, f->code, f->k, jt, jf, -1);
        }
    }

    _cleanup_free_ struct sock_filter *out = NULL;
    size_t out_n = 0;
    r = assemble(p, &out, &out_n);
    if (r < 0) {
        return r;
    }
    w.back = xmalloc(out_n * sizeof(*w.back));
    for (size_t i = 0; i < out_n; i++) {
        w.back[i] = SIZE_MAX;
    }
    for (size_t i = 0, c = first_copy; i < n; i++) {
        if (w.reach[i]) {
            w.back[c++] = i;
        }
    }
    r = self_check(in, &w.boxes, out, out_n, w.back);
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(out);
    *ret_n = out_n;
    return 0;
}
