/* sim/sweep — the sweep model (parse, expand, name, hash, resume, summary) and its back
 * ends (local processes, GNU parallel's jobs.txt, a Slurm array).  See sweep.h. */
#include "sim/sweep.h"
#include "sim/paths.h"
#include "sim/repstat.h"
#include "sim/sim.h"
#include "sim/stats.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_SECTION "sweep"
#define RUNS_SUBDIR "runs"
#define MANIFEST "sweep.json"
#define SUMMARY "summary.csv"
#define SUMMARY_REPLICATES "summary-replicates.csv"
#define REPLICATES_JSON "replicates.json"
#define REPLICATES_VERSION 1
#define JOBS "jobs.txt"
#define SBATCH "sweep.sbatch"
#define STDERR_LOG "stderr.log"
#define MANIFEST_VERSION 1
/* Folder names must fit one path component. */
#define RUN_NAME_MAX NAME_MAX
/* Characters kept as they are in a run's folder name; the rest become '_'. */
#define NAME_SAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-"
#define SWEEP_RANGE_INT_MAX 9007199254740992.0   /* 2^53: integers above it are not exact in a double */
/* Characters a shell word may hold without quotes. */
#define SHELL_SAFE NAME_SAFE "/=,:@%^"

/* ------------------------------------------------------------------ small helpers */

struct strv {
	char **v;
	int *line;
	size_t n, cap;
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		abort();   /* out of memory: nothing to recover */
	return q;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

static void strv_push(struct strv *s, const char *str, int line)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
		s->line = xrealloc(s->line, s->cap * sizeof(*s->line));
	}
	s->v[s->n] = xstrdup(str);
	s->line[s->n++] = line;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	free(s->line);
	memset(s, 0, sizeof(*s));
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Shortest text that parses back to the same double. */
static void format_real(double d, char *out, size_t n)
{
	if (d == (double)(int64_t)d && fabs(d) < 1e15) {
		snprintf(out, n, "%.0f", d);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, n, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

/* Append s to *buf as one shell word. */
static void shell_word(FILE *f, const char *s)
{
	if (*s && strspn(s, SHELL_SAFE) == strlen(s)) {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ the model */

struct axis {
	char *key;          /* section.key */
	char *name;         /* in folder names: the key's last part, or the key if that is ambiguous */
	struct strv values;
	int line;
	bool seeds;         /* made by a seeds = line: key run.seed, replicates */
};

/* One condition of an only/exclude line: the run's value of axis is one of match[]. */
struct cond {
	size_t axis;
	bool *match;        /* per value of the axis */
};

struct filter {
	bool only;
	struct cond *conds;
	size_t n;
	int line;
};

struct sweep {
	char *path;
	char *base;                 /* resolved against the sweep file's folder */
	int base_line;
	struct strv sets;
	struct axis *axes;
	size_t naxes;
	struct filter *filters;
	size_t nfilters;
	struct strv raw_filters;    /* "only\0..." / "exclude\0..." before the axes are known */
	struct axis *seeds;         /* the seeds = line until the vary lines are all read */
	size_t nruns;
	uint32_t *choice;           /* nruns x naxes value indices */
	char **names;
	char (*hashes)[CONFIG_HASH_LEN + 1];
	struct scenario *with_sets; /* base + sets, validated per run after the axis values */
};

static int fail(struct sweep_error *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct sweep_error *err, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return r;
}

void sweep_free(struct sweep *sw)
{
	if (!sw)
		return;
	free(sw->path);
	free(sw->base);
	strv_free(&sw->sets);
	for (size_t a = 0; a < sw->naxes; a++) {
		free(sw->axes[a].key);
		free(sw->axes[a].name);
		strv_free(&sw->axes[a].values);
	}
	free(sw->axes);
	for (size_t i = 0; i < sw->nfilters; i++) {
		for (size_t c = 0; c < sw->filters[i].n; c++)
			free(sw->filters[i].conds[c].match);
		free(sw->filters[i].conds);
	}
	free(sw->filters);
	strv_free(&sw->raw_filters);
	if (sw->seeds) {
		free(sw->seeds->key);
		strv_free(&sw->seeds->values);
		free(sw->seeds);
	}
	for (size_t r = 0; r < sw->nruns; r++)
		free(sw->names[r]);
	free(sw->names);
	free(sw->hashes);
	free(sw->choice);
	free(sw->with_sets);
	free(sw);
}

/* ---- ranges */

/* [0-9]+(.[0-9]+)? at *p; the text's length, 0 if none. */
static size_t scan_decimal(const char *p, bool *frac)
{
	size_t n = strspn(p, "0123456789");
	*frac = false;
	if (n && p[n] == '.' && p[n + 1] >= '0' && p[n + 1] <= '9') {
		*frac = true;
		n += 1 + strspn(p + n + 1, "0123456789");
	}
	return n;
}

static bool is_unit(char c) { return c && strchr("KMGTkmgt", c); }

/* An item "A..B", "A..B +S" or "A..B *F" (sweep.h).  Returns 1 and appends the values when
 * item is a range, 0 when it is not one (a plain value: it does not start with a digit or
 * has no ".."), -EINVAL with msg when it looks like a range but is malformed. */
static int expand_range(const char *item, struct strv *out, int line, char *msg, size_t msz)
{
	if (!(item[0] >= '0' && item[0] <= '9') || !strstr(item, ".."))
		return 0;
	const char *p = item;
	bool fa, fb, fs = false;
	size_t la = scan_decimal(p, &fa);
	char unit = is_unit(p[la]) ? p[la] : 0;
	const char *pa = p;
	p += la + (unit != 0);
	if (strncmp(p, "..", 2))
		goto bad;
	p += 2;
	const char *pb = p;
	size_t lb = scan_decimal(p, &fb);
	if (!lb)
		goto bad;
	p += lb;
	char unit_b = is_unit(*p) ? *p : 0;
	p += unit_b != 0;
	if (tolower((unsigned char)unit) != tolower((unsigned char)unit_b)) {
		snprintf(msg, msz, "range '%s': both ends need the same unit", item);
		return -EINVAL;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	char op = '+';
	double step = 1;
	const char *ps = "1";
	if (*p == '+' || *p == '*') {
		op = *p++;
		while (*p == ' ' || *p == '\t')
			p++;
		ps = p;
		size_t ls = scan_decimal(p, &fs);
		if (!ls)
			goto bad;
		p += ls;
	}
	if (*p)
		goto bad;
	double a = strtod(pa, NULL), b = strtod(pb, NULL);
	step = strtod(ps, NULL);
	if (a > b) {
		snprintf(msg, msz, "range '%s': the start is above the end", item);
		return -EINVAL;
	}
	if (op == '+' && step <= 0) {
		snprintf(msg, msz, "range '%s': the step must be above 0", item);
		return -EINVAL;
	}
	if (op == '*' && (step <= 1 || a <= 0)) {
		snprintf(msg, msz, "range '%s': *F needs F > 1 and a start above 0", item);
		return -EINVAL;
	}
	char sfx[2] = { unit, 0 };
	bool integral = !fa && !fb && !fs;
	/* Integral values print as integers: they must be exact in a double and fit the
	 * conversion to uint64_t (found by fuzz_sweep: 0..1e22 converted out of range). */
	if (integral && b > SWEEP_RANGE_INT_MAX) {
		snprintf(msg, msz, "range '%s': the end is above %.0f", item, SWEEP_RANGE_INT_MAX);
		return -EINVAL;
	}
	for (size_t i = 0;; i++) {
		double v = op == '+' ? a + (double)i * step : a * pow(step, (double)i);
		if (v > b * (1 + 1e-12))   /* before the conversion below: v may be huge */
			break;
		if (integral && op == '*')
			v = (double)(uint64_t)(v + 0.5);
		if (i == SWEEP_MAX_VALUES) {
			snprintf(msg, msz, "range '%s' has more than %d values", item, SWEEP_MAX_VALUES);
			return -E2BIG;
		}
		char num[64];
		if (integral)
			snprintf(num, sizeof(num), "%llu%s", (unsigned long long)v, sfx);
		else {
			snprintf(num, sizeof(num), "%.12g", v);   /* 0.1 + 2 * 0.1 prints as 0.3 */
			strncat(num, sfx, sizeof(num) - strlen(num) - 1);
		}
		strv_push(out, num, line);
	}
	return 1;
bad:
	snprintf(msg, msz, "range '%s': expected A..B, A..B +STEP or A..B *FACTOR (A, B, STEP: "
		 "decimals; A and B may share a K/M/G/T unit)", item);
	return -EINVAL;
}

/* How messages name an axis's line: "vary guest.vcpus", or "seeds". */
static const char *axis_what(const struct axis *ax, char *buf, size_t n)
{
	snprintf(buf, n, ax->seeds ? "seeds" : "vary %s", ax->key);
	return buf;
}

/* "v, v, A..B +S" -> values; errors name the line. */
static int parse_values(struct sweep *sw, struct axis *ax, const char *list, int line, struct sweep_error *err)
{
	char *buf = xstrdup(list), *rest = buf, *tok, what[512];
	int r = 0;
	axis_what(ax, what, sizeof(what));
	if (ax->seeds && !*trim(buf)) {
		free(buf);
		return fail(err, -EINVAL, "%s:%d: seeds: no seed (expected A..B or a list, e.g. 1..10 or 1, 2, 7)",
			    sw->path, line);
	}
	while ((tok = strsep(&rest, ","))) {   /* strsep: "1,,2" has an empty item */
		char *item = trim(tok), msg[512];
		if (!*item) {
			r = fail(err, -EINVAL, "%s:%d: %s: an empty value", sw->path, line, what);
			break;
		}
		int k = expand_range(item, &ax->values, line, msg, sizeof(msg));
		if (k < 0) {
			r = fail(err, k, "%s:%d: %s: %s", sw->path, line, what, msg);
			break;
		}
		if (!k)   /* "" stands for the empty value */
			strv_push(&ax->values, strcmp(item, "\"\"") ? item : "", line);
		if (ax->values.n > SWEEP_MAX_VALUES) {
			r = fail(err, -E2BIG, "%s:%d: %s: more than %d values", sw->path, line, what,
				 SWEEP_MAX_VALUES);
			break;
		}
	}
	free(buf);
	return r;
}

/* ---- the [sweep] section */

struct parse_ctx {
	struct sweep *sw;
	FILE *f;
	int line;
	int err_line;
	int r;
	bool after_seeds;   /* the key before was seeds: a vary += there has no vary line above */
	struct sweep_error *err;
};

static int sweep_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	struct sweep *sw = c->sw;
	if (c->err_line)
		return 0;
	c->err_line = c->line;   /* cleared below on success */
	if (!*section) {
		c->r = fail(c->err, -EINVAL, "%s:%d: %s: keys belong in a [sweep] section", sw->path, c->line, name);
		return 0;
	}
	if (strcmp(section, SWEEP_SECTION)) {
		c->r = fail(c->err, -EINVAL, "%s:%d: [%s]: a sweep file has one [sweep] section (keys: base, set, "
			    "vary, seeds, only, exclude)", sw->path, c->line, section);
		return 0;
	}
	char *key = xstrdup(name);   /* any length: a cut name would be reported wrongly */
	char *k = trim(key);
	bool append = false;
	size_t kl = strlen(k);
	if (kl && k[kl - 1] == '+') {   /* "vary += ..." reaches us as the name "vary +" */
		k[kl - 1] = '\0';
		k = trim(k);
		append = true;
	}
	char *vcopy = xstrdup(value);
	char *v = trim(vcopy);
	int line = c->line;
	if (append && strcmp(k, "vary")) {
		c->r = fail(c->err, -EINVAL, "%s:%d: %s +=: only vary takes +=", sw->path, line, k);
	} else if (!strcmp(k, "base")) {
		if (sw->base) {
			c->r = fail(c->err, -EINVAL, "%s:%d: base: given twice (first on line %d)", sw->path, line,
				    sw->base_line);
		} else if (!*v) {
			c->r = fail(c->err, -EINVAL, "%s:%d: base: a config file is needed", sw->path, line);
		} else {
			sw->base = xstrdup(v);
			sw->base_line = line;
		}
	} else if (!strcmp(k, "set")) {
		char *eq = strchr(v, '=');
		if (!eq) {
			c->r = fail(c->err, -EINVAL, "%s:%d: set: expected section.key=value", sw->path, line);
		} else {   /* kept as "key=value", the form it takes on command lines */
			*eq = '\0';
			char *norm = NULL;
			if (asprintf(&norm, "%s=%s", trim(v), trim(eq + 1)) < 0)
				abort();
			strv_push(&sw->sets, norm, line);
			free(norm);
		}
	} else if (!strcmp(k, "vary") && append) {
		if (!sw->naxes || c->after_seeds)
			c->r = fail(c->err, -EINVAL, "%s:%d: vary +=: no vary line above to add to%s", sw->path, line,
				    c->after_seeds ? " (the line above is seeds)" : "");
		else
			c->r = parse_values(sw, &sw->axes[sw->naxes - 1], v, line, c->err);
	} else if (!strcmp(k, "vary")) {
		char *colon = strchr(v, ':');
		if (!colon) {
			c->r = fail(c->err, -EINVAL, "%s:%d: vary: expected section.key: value, value, ...", sw->path, line);
		} else {
			*colon = '\0';
			sw->axes = xrealloc(sw->axes, (sw->naxes + 1) * sizeof(*sw->axes));
			struct axis *ax = &sw->axes[sw->naxes++];
			memset(ax, 0, sizeof(*ax));
			ax->key = xstrdup(trim(v));
			ax->line = line;
			c->r = parse_values(sw, ax, colon + 1, line, c->err);
		}
	} else if (!strcmp(k, "seeds")) {
		if (sw->seeds) {
			c->r = fail(c->err, -EINVAL, "%s:%d: seeds: given twice (first on line %d)", sw->path, line,
				    sw->seeds->line);
		} else {
			sw->seeds = calloc(1, sizeof(*sw->seeds));
			if (!sw->seeds)
				abort();
			sw->seeds->key = xstrdup(SWEEP_SEED_KEY);
			sw->seeds->line = line;
			sw->seeds->seeds = true;
			c->r = parse_values(sw, sw->seeds, v, line, c->err);
		}
	} else if (!strcmp(k, "only") || !strcmp(k, "exclude")) {
		char *buf = NULL;
		if (asprintf(&buf, "%s=%s", k, v) < 0)   /* resolved once the axes are known */
			abort();
		strv_push(&sw->raw_filters, buf, line);
		free(buf);
	} else {
		c->r = fail(c->err, -EINVAL, "%s:%d: %s: unknown key (base, set, vary, seeds, only, exclude)", sw->path, line, k);
	}
	c->after_seeds = !strcmp(k, "seeds");
	free(vcopy);
	free(key);
	if (c->r)
		return 0;
	c->err_line = 0;
	return 1;
}

/* config_ini_fgets(), with the sweep file's message for a long line. */
static char *sweep_ini_reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	enum config_line_problem problem;
	char *r = config_ini_fgets(str, num, c->f, &c->line, &problem);

	if (problem && !c->err_line) {
		if (problem == CONFIG_LINE_TOO_LONG)
			c->r = fail(c->err, -EINVAL, "%s:%d: line longer than %d characters; continue a value "
				    "list on a 'vary += ...' line", c->sw->path, c->line, num - 2);
		else
			c->r = fail(c->err, -EINVAL, "%s:%d: %s", c->sw->path, c->line,
				    config_line_problem_text(problem));
		c->err_line = c->line;
	}
	return r;
}

static struct axis *find_axis(struct sweep *sw, const char *key, size_t *idx)
{
	for (size_t a = 0; a < sw->naxes; a++) {
		if (!strcmp(sw->axes[a].key, key) || !strcmp(sw->axes[a].name, key)) {
			*idx = a;
			return &sw->axes[a];
		}
	}
	return NULL;
}

/* "only=key=v|v, key=v" -> a filter. */
static int parse_filter(struct sweep *sw, const char *raw, int line, struct sweep_error *err)
{
	char *buf = xstrdup(raw), *save = NULL;
	char *eq = strchr(buf, '=');
	*eq = '\0';
	struct filter flt = { .only = !strcmp(buf, "only"), .line = line };
	const char *what = buf;
	int r = 0;
	for (char *tok = strtok_r(eq + 1, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save)) {
		char *cond = trim(tok);
		char *ceq = strchr(cond, '=');
		if (!ceq) {
			r = fail(err, -EINVAL, "%s:%d: %s: '%s': expected key=value (values separated by |)", sw->path,
				 line, what, cond);
			break;
		}
		*ceq = '\0';
		char *key = trim(cond);
		size_t ai;
		struct axis *ax = find_axis(sw, key, &ai);
		if (!ax) {
			r = fail(err, -EINVAL, "%s:%d: %s: '%s' is not a vary key of this sweep", sw->path, line, what, key);
			break;
		}
		for (size_t c = 0; c < flt.n; c++)
			if (flt.conds[c].axis == ai)
				r = fail(err, -EINVAL, "%s:%d: %s: %s named twice (list values as a|b)", sw->path, line,
					 what, ax->key);
		if (r)
			break;
		flt.conds = xrealloc(flt.conds, (flt.n + 1) * sizeof(*flt.conds));
		struct cond *cd = &flt.conds[flt.n++];
		cd->axis = ai;
		cd->match = calloc(ax->values.n, sizeof(bool));
		if (!cd->match)
			abort();
		char *save2 = NULL;
		for (char *alt = strtok_r(ceq + 1, "|", &save2); alt; alt = strtok_r(NULL, "|", &save2)) {
			char *val = trim(alt);
			size_t vi = 0;
			while (vi < ax->values.n && strcmp(ax->values.v[vi], val))
				vi++;
			if (vi == ax->values.n) {
				r = fail(err, -EINVAL, "%s:%d: %s: %s=%s: not one of the values of %s (line %d)", sw->path,
					 line, what, ax->key, val, ax->key, ax->line);
				break;
			}
			cd->match[vi] = true;
		}
	}
	if (!r && !flt.n)
		r = fail(err, -EINVAL, "%s:%d: %s: no condition", sw->path, line, what);
	sw->filters = xrealloc(sw->filters, (sw->nfilters + 1) * sizeof(*sw->filters));
	sw->filters[sw->nfilters++] = flt;   /* owned by sw even on error, freed with it */
	free(buf);
	return r;
}

static bool filter_matches(const struct filter *f, const uint32_t *choice)
{
	for (size_t c = 0; c < f->n; c++)
		if (!f->conds[c].match[choice[f->conds[c].axis]])
			return false;
	return true;
}

static bool run_kept(const struct sweep *sw, const uint32_t *choice)
{
	bool any_only = false, in_only = false;
	for (size_t i = 0; i < sw->nfilters; i++) {
		const struct filter *f = &sw->filters[i];
		bool m = filter_matches(f, choice);
		if (!f->only && m)
			return false;
		if (f->only) {
			any_only = true;
			in_only |= m;
		}
	}
	return !any_only || in_only;
}

/* "section.key=value" for config_set(). */
static int set_axis_value(struct scenario *sc, const struct axis *ax, const char *value, struct config_error *cerr)
{
	char *buf = NULL;
	if (asprintf(&buf, "%s=%s", ax->key, value) < 0)
		abort();
	int r = config_set(sc, buf, cerr);
	free(buf);
	return r;
}

/* config_set()'s message without its "--set: " prefix. */
static const char *set_msg(const struct config_error *cerr)
{
	return strncmp(cerr->msg, "--set: ", 7) ? cerr->msg : cerr->msg + 7;
}

static size_t set_key_len(const char *assignment)
{
	const char *eq = strchr(assignment, '=');
	size_t n = eq ? (size_t)(eq - assignment) : strlen(assignment);
	while (n && (assignment[n - 1] == ' ' || assignment[n - 1] == '\t'))
		n--;
	return n;
}

/* Folder-name parts of every axis, then every run's name. */
static void name_axes(struct sweep *sw)
{
	for (size_t a = 0; a < sw->naxes; a++) {
		const char *last = strrchr(sw->axes[a].key, '.');
		last = last ? last + 1 : sw->axes[a].key;
		bool shared = false;
		for (size_t b = 0; b < sw->naxes; b++) {
			const char *lb = strrchr(sw->axes[b].key, '.');
			lb = lb ? lb + 1 : sw->axes[b].key;
			shared |= b != a && !strcmp(last, lb);
		}
		sw->axes[a].name = xstrdup(shared ? sw->axes[a].key : last);
	}
}

static char *run_name(const struct sweep *sw, const uint32_t *choice)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	if (!sw->naxes)
		fputs("base", f);
	for (size_t a = 0; a < sw->naxes; a++) {
		fprintf(f, "%s%s=", a ? "," : "", sw->axes[a].name);
		for (const char *p = sw->axes[a].values.v[choice[a]]; *p; p++)
			fputc(strchr(NAME_SAFE, *p) ? *p : '_', f);
	}
	if (fclose(f))
		abort();
	return buf;
}

/* Build run r's effective config: base + sets (copied), then the axis values; validated. */
static int build_run(const struct sweep *sw, const uint32_t *choice, struct scenario *sc, struct config_error *cerr)
{
	*sc = *sw->with_sets;
	for (size_t a = 0; a < sw->naxes; a++)
		if (set_axis_value(sc, &sw->axes[a], sw->axes[a].values.v[choice[a]], cerr))
			return -EINVAL;
	return config_validate(sc, cerr);
}

/* The rest of what a run checks before it simulates (sim_check(): the traces open and fit
 * the guest, the generator's needs, the ELF files load), so that a sweep whose tasks would
 * fail fails before it starts any.  checked remembers the trace and ELF lists found good: a
 * sweep of many runs opens each file once. */
static int check_run(const struct scenario *sc, json_t *checked, struct config_error *cerr)
{
	char *key = NULL;
	int r = 0;

	/* what replay_create() checks depends on these keys only */
	if (sc->trace[0] && asprintf(&key, "trace\n%u\n%d\n%s", sc->vcpus, sc->paging, sc->trace) < 0)
		abort();
	if (!key || !json_object_get(checked, key)) {
		r = sim_check_workload(sc, cerr->msg, sizeof(cerr->msg));
		if (!r && key)
			json_object_set_new(checked, key, json_true());
	}
	free(key);
	if (!r && sc->elf[0] && !json_object_get(checked, sc->elf)) {
		r = sim_check_elf(sc->elf, cerr->msg, sizeof(cerr->msg));
		if (!r)
			json_object_set_new(checked, sc->elf, json_true());
	}
	return r ? -EINVAL : 0;
}

static int expand(struct sweep *sw, struct sweep_error *err)
{
	size_t product = 1;
	for (size_t a = 0; a < sw->naxes; a++) {
		product *= sw->axes[a].values.n;
		if (product > SWEEP_MAX_PRODUCT)
			return fail(err, -E2BIG, "%s:%d: the axes make more than %d combinations", sw->path,
				    sw->axes[a].line, SWEEP_MAX_PRODUCT);
	}
	uint32_t *cur = calloc(sw->naxes + 1, sizeof(*cur));
	struct scenario *sc = malloc(sizeof(*sc));
	json_t *seen = json_object(), *checked = json_object();
	if (!cur || !sc || !seen || !checked)
		abort();
	int r = 0;
	for (size_t k = 0; k < product && !r; k++) {
		/* mixed radix, the last axis fastest */
		size_t rest = k;
		for (size_t a = sw->naxes; a-- > 0;) {
			cur[a] = (uint32_t)(rest % sw->axes[a].values.n);
			rest /= sw->axes[a].values.n;
		}
		if (!run_kept(sw, cur))
			continue;
		if (sw->nruns == SWEEP_MAX_RUNS) {
			r = fail(err, -E2BIG, "%s: more than %d runs (use only/exclude lines or fewer values)", sw->path,
				 SWEEP_MAX_RUNS);
			break;
		}
		char *name = run_name(sw, cur);
		struct config_error cerr;
		if (build_run(sw, cur, sc, &cerr) || check_run(sc, checked, &cerr)) {
			r = fail(err, -EINVAL, "%s: run %s: %s (drop it with an exclude = line)", sw->path, name,
				 set_msg(&cerr));
			free(name);
			break;
		}
		if (strlen(name) > RUN_NAME_MAX) {
			r = fail(err, -ENAMETOOLONG, "%s: run %s: the folder name is longer than %d characters (fewer "
				 "or shorter values)", sw->path, name, RUN_NAME_MAX);
			free(name);
			break;
		}
		json_t *other = json_object_get(seen, name);
		if (other) {
			r = fail(err, -EINVAL, "%s: runs %lld and %zu would share the folder %s (values that differ only in "
				 "characters outside [A-Za-z0-9._+-])", sw->path, (long long)json_integer_value(other),
				 sw->nruns, name);
			free(name);
			break;
		}
		json_object_set_new(seen, name, json_integer((json_int_t)sw->nruns));
		size_t n = sw->nruns++;
		sw->names = xrealloc(sw->names, sw->nruns * sizeof(*sw->names));
		sw->hashes = xrealloc(sw->hashes, sw->nruns * sizeof(*sw->hashes));
		sw->choice = xrealloc(sw->choice, sw->nruns * (sw->naxes ? sw->naxes : 1) * sizeof(*sw->choice));
		sw->names[n] = name;
		config_hash(sc, sw->hashes[n]);
		memcpy(&sw->choice[n * sw->naxes], cur, sw->naxes * sizeof(*cur));
	}
	if (!r && !sw->nruns)
		r = fail(err, -EINVAL, "%s: the only/exclude lines leave no run", sw->path);
	json_decref(seen);
	json_decref(checked);
	free(sc);
	free(cur);
	return r;
}

static int sweep_finish(struct sweep *sw, struct sweep_error *err);

int sweep_load(const char *path, struct sweep **out, struct sweep_error *err)
{
	*out = NULL;
	struct sweep *sw = calloc(1, sizeof(*sw));
	if (!sw)
		abort();
	sw->path = xstrdup(path);
	int r = 0;

	struct stat st;
	FILE *f = NULL;
	if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
		r = fail(err, -EISDIR, "%s: is a directory, not a sweep file", path);
		goto out;
	}
	if (!(f = fopen(path, "r"))) {
		r = fail(err, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	struct parse_ctx c = { .sw = sw, .f = f, .err = err };
	int line = ini_parse_stream(sweep_ini_reader, &c, sweep_ini_handler, &c);
	fclose(f);
	if (c.r) {
		r = c.r;
		goto out;
	}
	if (line) {
		r = fail(err, -EINVAL, "%s:%d: syntax error (expected [sweep] or key = value)", path, line);
		goto out;
	}
	if (!sw->base) {
		r = fail(err, -EINVAL, "%s: no base = CONFIG in [sweep]", path);
		goto out;
	}
	/* base is relative to the sweep file's folder */
	if (sw->base[0] != '/') {
		const char *slash = strrchr(path, '/');
		if (slash) {
			char *b = NULL;
			if (asprintf(&b, "%.*s/%s", (int)(slash - path), path, sw->base) < 0)
				abort();
			free(sw->base);
			sw->base = b;
		}
	}
	r = sweep_finish(sw, err);
out:
	if (r) {
		sweep_free(sw);
		return r;
	}
	*out = sw;
	return 0;
}

/* The seeds = line becomes the last axis (the fastest: a point's replicates are
 * neighbours in sweep order and in summary.csv). */
static int attach_seeds(struct sweep *sw, struct sweep_error *err)
{
	if (!sw->seeds)
		return 0;
	for (size_t a = 0; a < sw->naxes; a++)
		if (!strcmp(sw->axes[a].key, SWEEP_SEED_KEY))
			return fail(err, -EINVAL, "%s:%d: seeds: " SWEEP_SEED_KEY " is also varied on line %d (the "
				    "seeds line is the seed's axis: keep one of them)", sw->path, sw->seeds->line,
				    sw->axes[a].line);
	sw->axes = xrealloc(sw->axes, (sw->naxes + 1) * sizeof(*sw->axes));
	sw->axes[sw->naxes++] = *sw->seeds;
	free(sw->seeds);
	sw->seeds = NULL;
	return 0;
}

/* After the file (or sweep_replicates()): base + sets, the axes checked, named, filtered
 * and expanded into runs. */
static int sweep_finish(struct sweep *sw, struct sweep_error *err)
{
	const char *path = sw->path;
	int r = attach_seeds(sw, err);
	if (r)
		return r;

	/* base + sets */
	struct config_error cerr;
	sw->with_sets = malloc(sizeof(*sw->with_sets));
	if (!sw->with_sets)
		abort();
	config_defaults(sw->with_sets);
	if ((r = config_load(sw->with_sets, sw->base, &cerr))) {
		r = fail(err, r == -ENOENT || r == -EISDIR ? r : -EINVAL, "%s:%d: base: %s", path, sw->base_line, cerr.msg);
		return r;
	}
	for (size_t i = 0; i < sw->sets.n; i++) {
		if (config_set(sw->with_sets, sw->sets.v[i], &cerr)) {
			r = fail(err, -EINVAL, "%s:%d: set: %s", path, sw->sets.line[i], set_msg(&cerr));
			return r;
		}
		for (size_t j = 0; j < i; j++)
			if (set_key_len(sw->sets.v[j]) == set_key_len(sw->sets.v[i]) &&
			    !strncmp(sw->sets.v[j], sw->sets.v[i], set_key_len(sw->sets.v[i]))) {
				r = fail(err, -EINVAL, "%s:%d: set: %.*s is set twice (line %d)", path, sw->sets.line[i],
					 (int)set_key_len(sw->sets.v[i]), sw->sets.v[i], sw->sets.line[j]);
				return r;
			}
	}

	/* the axes: real keys, good values, no key twice */
	struct scenario *tmp = malloc(sizeof(*tmp));
	char what[512];
	if (!tmp)
		abort();
	for (size_t a = 0; a < sw->naxes && !r; a++) {
		struct axis *ax = &sw->axes[a];
		for (size_t v = 0; v < ax->values.n && !r; v++) {
			*tmp = *sw->with_sets;
			if (set_axis_value(tmp, ax, ax->values.v[v], &cerr))
				r = fail(err, -EINVAL, "%s:%d: %s: %s", path, ax->values.line[v], ax->seeds ? "seeds" : "vary",
					 set_msg(&cerr));
			for (size_t w = 0; w < v && !r; w++)
				if (!strcmp(ax->values.v[w], ax->values.v[v]))
					r = fail(err, -EINVAL, "%s:%d: %s: %s is listed twice", path,
						 ax->values.line[v], axis_what(ax, what, sizeof(what)), ax->values.v[v]);
		}
		for (size_t b = 0; b < a && !r; b++)
			if (!strcmp(sw->axes[b].key, ax->key))
				r = fail(err, -EINVAL, "%s:%d: vary: %s is varied twice (line %d)", path, ax->line, ax->key,
					 sw->axes[b].line);
		for (size_t i = 0; i < sw->sets.n && !r; i++)
			if (set_key_len(sw->sets.v[i]) == strlen(ax->key) &&
			    !strncmp(sw->sets.v[i], ax->key, strlen(ax->key)))
				r = fail(err, -EINVAL, "%s:%d: %s: %s is also fixed by set on line %d", path, ax->line,
					 ax->seeds ? "seeds" : "vary", ax->key, sw->sets.line[i]);
	}
	free(tmp);
	if (r)
		return r;
	name_axes(sw);
	for (size_t i = 0; i < sw->raw_filters.n; i++)
		if ((r = parse_filter(sw, sw->raw_filters.v[i], sw->raw_filters.line[i], err)))
			return r;
	return expand(sw, err);
}

int sweep_replicates(const char *config, const char *const *sets, size_t nsets, uint64_t first, uint64_t n,
		     struct sweep **out, struct sweep_error *err)
{
	*out = NULL;
	if (!n || n > SWEEP_MAX_VALUES || first > CONFIG_SEED_MAX - (n - 1))
		return fail(err, -EINVAL, "--replicates %llu from seed %llu: 1 to %d seeds, the last at most %llu",
			    (unsigned long long)n, (unsigned long long)first, SWEEP_MAX_VALUES,
			    (unsigned long long)CONFIG_SEED_MAX);
	struct sweep *sw = calloc(1, sizeof(*sw));
	if (!sw)
		abort();
	sw->path = xstrdup(config);
	sw->base = xstrdup(config);
	for (size_t i = 0; i < nsets; i++)
		strv_push(&sw->sets, sets[i], 0);
	sw->seeds = calloc(1, sizeof(*sw->seeds));
	if (!sw->seeds)
		abort();
	sw->seeds->key = xstrdup(SWEEP_SEED_KEY);
	sw->seeds->seeds = true;
	for (uint64_t i = 0; i < n; i++) {
		char v[32];
		snprintf(v, sizeof(v), "%llu", (unsigned long long)(first + i));
		strv_push(&sw->seeds->values, v, 0);
	}
	int r = sweep_finish(sw, err);
	if (r)
		sweep_free(sw);
	else
		*out = sw;
	return r;
}

const char *sweep_base(const struct sweep *sw) { return sw->base; }

int sweep_seed_axis(const struct sweep *sw)
{
	for (size_t a = 0; a < sw->naxes; a++)
		if (sw->axes[a].seeds)
			return (int)a;
	return -1;
}
size_t sweep_nr_axes(const struct sweep *sw) { return sw->naxes; }
const char *sweep_axis_key(const struct sweep *sw, size_t axis) { return sw->axes[axis].key; }
size_t sweep_nr_runs(const struct sweep *sw) { return sw->nruns; }
const char *sweep_run_name(const struct sweep *sw, size_t run) { return sw->names[run]; }
const char *sweep_run_hash(const struct sweep *sw, size_t run) { return sw->hashes[run]; }

const char *sweep_run_value(const struct sweep *sw, size_t run, size_t axis)
{
	return sw->axes[axis].values.v[sw->choice[run * sw->naxes + axis]];
}

int sweep_run_scenario(const struct sweep *sw, size_t run, struct scenario *sc, struct sweep_error *err)
{
	struct config_error cerr;
	if (build_run(sw, &sw->choice[run * sw->naxes], sc, &cerr))
		return fail(err, -EINVAL, "%s: run %s: %s", sw->path, sw->names[run], set_msg(&cerr));
	return 0;
}

/* ------------------------------------------------------------------ commands */

static char *run_dir(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/" RUNS_SUBDIR "/%s", dir, name) < 0)
		abort();
	return p;
}

char **sweep_run_argv(const struct sweep *sw, size_t run, const char *exe, const char *dir, bool skip_done)
{
	size_t n = 0, cap = 8 + 2 * (sw->sets.n + sw->naxes);
	char **argv = calloc(cap, sizeof(*argv));
	if (!argv)
		abort();
	argv[n++] = xstrdup(exe);
	argv[n++] = xstrdup("run");
	argv[n++] = xstrdup(sw->base);
	for (size_t i = 0; i < sw->sets.n; i++) {
		argv[n++] = xstrdup("--set");
		argv[n++] = xstrdup(sw->sets.v[i]);
	}
	for (size_t a = 0; a < sw->naxes; a++) {
		argv[n++] = xstrdup("--set");
		if (asprintf(&argv[n++], "%s=%s", sw->axes[a].key, sweep_run_value(sw, run, a)) < 0)
			abort();
	}
	argv[n++] = xstrdup("--out");
	argv[n++] = run_dir(dir, sw->names[run]);
	argv[n++] = xstrdup("--quiet");
	if (skip_done)
		argv[n++] = xstrdup("--skip-done");
	argv[n] = NULL;
	return argv;
}

void sweep_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* ------------------------------------------------------------------ resume */

const char *sweep_run_state_name(enum sweep_run_state st)
{
	switch (st) {
	case SWEEP_RUN_DONE: return "done";
	case SWEEP_RUN_MISSING: return "no stats.json";
	case SWEEP_RUN_PARTIAL: return "incomplete stats.json";
	case SWEEP_RUN_STALE: return "stats.json of another config";
	case SWEEP_RUN_CORRUPT: return "corrupt stats.json";
	case SWEEP_RUN_UNREADABLE: return "unreadable stats.json";
	}
	return "?";
}

/* The resume rule; with doc, a done run's stats.json is handed back (new reference); why
 * (may be NULL) says what is wrong with a corrupt or unreadable one. */
static enum sweep_run_state run_state_doc(const char *run_dir_path, const char *hash, json_t **doc, char *why,
					  size_t whylen)
{
	char path[PATH_MAX + 32], msg[PATH_MAX + 512];
	int r;
	snprintf(path, sizeof(path), "%s/stats.json", run_dir_path);
	if (doc)
		*doc = NULL;
	if (why && whylen)
		why[0] = '\0';
	json_t *d = path_load_json(path, &r, msg, sizeof(msg));
	if (!d && r == -ENOENT)
		return SWEEP_RUN_MISSING;
	enum sweep_run_state st = d ? SWEEP_RUN_DONE : r == -EBADMSG ? SWEEP_RUN_CORRUPT : SWEEP_RUN_UNREADABLE;
	if (d && (!json_is_object(d) || !json_is_object(json_object_get(d, "stats")))) {
		snprintf(msg, sizeof(msg), "%s: not an object with a \"stats\" object", path);
		st = SWEEP_RUN_CORRUPT;
	} else if (d && (!json_is_true(json_object_get(d, "complete")) ||
			 !json_is_string(json_object_get(d, "config_hash")))) {
		st = SWEEP_RUN_PARTIAL;
	} else if (d && strcmp(json_string_value(json_object_get(d, "config_hash")), hash)) {
		st = SWEEP_RUN_STALE;
	}
	if (why && (st == SWEEP_RUN_CORRUPT || st == SWEEP_RUN_UNREADABLE))
		snprintf(why, whylen, "%s", msg);
	if (doc && st == SWEEP_RUN_DONE)
		*doc = d;
	else
		json_decref(d);
	return st;
}

enum sweep_run_state sweep_run_state(const char *run_dir_path, const char *hash)
{
	return run_state_doc(run_dir_path, hash, NULL, NULL, 0);
}

enum sweep_run_state sweep_run_check(const char *run_dir_path, const char *hash, char *why, size_t n)
{
	return run_state_doc(run_dir_path, hash, NULL, why, n);
}

/* ------------------------------------------------------------------ manifest */

static char *join(const char *dir, const char *file)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, file) < 0)
		abort();
	return p;
}

int sweep_prepare(const struct sweep *sw, const char *dir, struct sweep_error *err)
{
	int r;
	for (size_t i = 0; i < sw->nruns; i++) {
		char *rd = run_dir(dir, sw->names[i]);
		r = stats_mkdir_p(rd);
		if (r) {
			fail(err, r, "%s: %s", rd, strerror(-r));
			free(rd);
			return r;
		}
		free(rd);
	}
	json_t *doc = json_object(), *axes = json_array(), *runs = json_array(), *sets = json_array();
	json_object_set_new(doc, "eptsim_sweep", json_integer(MANIFEST_VERSION));
	json_object_set_new(doc, "sweep_file", json_string(sw->path));
	json_object_set_new(doc, "base", json_string(sw->base));
	for (size_t i = 0; i < sw->sets.n; i++)
		json_array_append_new(sets, json_string(sw->sets.v[i]));
	json_object_set_new(doc, "set", sets);
	for (size_t a = 0; a < sw->naxes; a++) {
		json_t *ax = json_object(), *vals = json_array();
		json_object_set_new(ax, "key", json_string(sw->axes[a].key));
		json_object_set_new(ax, "name", json_string(sw->axes[a].name));
		if (sw->axes[a].seeds)   /* replicates: summary-replicates.csv, error bars */
			json_object_set_new(ax, "seeds", json_true());
		for (size_t v = 0; v < sw->axes[a].values.n; v++)
			json_array_append_new(vals, json_string(sw->axes[a].values.v[v]));
		json_object_set_new(ax, "values", vals);
		json_array_append_new(axes, ax);
	}
	json_object_set_new(doc, "axes", axes);
	for (size_t i = 0; i < sw->nruns; i++) {
		json_t *run = json_object(), *vals = json_array();
		json_object_set_new(run, "name", json_string(sw->names[i]));
		json_object_set_new(run, "config_hash", json_string(sw->hashes[i]));
		for (size_t a = 0; a < sw->naxes; a++)
			json_array_append_new(vals, json_string(sweep_run_value(sw, i, a)));
		json_object_set_new(run, "values", vals);
		json_array_append_new(runs, run);
	}
	json_object_set_new(doc, "runs", runs);
	char *path = join(dir, MANIFEST);
	r = write_json_atomic(doc, path);
	json_decref(doc);
	if (r)
		fail(err, r, "%s: %s", path, strerror(-r));
	free(path);
	return r;
}

/* ------------------------------------------------------------------ emitted back ends */

struct jobs_ctx {
	const struct sweep *sw;
	const char *dir, *exe, *cwd;
	bool force;
};

static void write_jobs(FILE *f, void *ctx)
{
	struct jobs_ctx *j = ctx;
	for (size_t i = 0; i < j->sw->nruns; i++) {
		char **argv = sweep_run_argv(j->sw, i, j->exe, j->dir, !j->force);
		/* cd CWD && (EPTSIM run ... 2> LOG; s=$?; [ -s LOG ] || rm -f LOG; exit $s): the log
		 * stays only when the run said something, as with the local back end */
		fputs("cd ", f);
		shell_word(f, j->cwd);
		fputs(" && (", f);
		for (size_t k = 0; argv[k]; k++) {
			if (k)
				fputc(' ', f);
			shell_word(f, argv[k]);
		}
		char *rd = run_dir(j->dir, j->sw->names[i]);
		char *log = join(rd, STDERR_LOG);
		fputs(" 2> ", f);
		shell_word(f, log);
		fputs("; s=$?; [ -s ", f);
		shell_word(f, log);
		fputs(" ] || rm -f ", f);
		shell_word(f, log);
		fputs("; exit $s)\n", f);
		free(log);
		free(rd);
		sweep_argv_free(argv);
	}
}

/* exe and the working directory as absolute paths, for commands run elsewhere. */
static int absolute_paths(const char *exe, char *abs_exe, char *cwd, struct sweep_error *err)
{
	if (!realpath(exe, abs_exe))
		return fail(err, -errno, "%s: %s", exe, strerror(errno));
	if (!getcwd(cwd, PATH_MAX))
		return fail(err, -errno, "getcwd: %s", strerror(errno));
	return 0;
}

/* A word going into an emitted script must not hold a control character: quoting keeps a
 * newline inside one shell word, but GNU parallel and the Slurm task read jobs.txt a line
 * at a time, so the text after it would run as a command of its own. */
static int script_word_ok(const char *what, const char *word, struct sweep_error *err)
{
	const char *c = path_control_char(word);
	if (!c)
		return 0;
	return fail(err, -EINVAL, "%s: control character 0x%02x in '%.*s...': refused, it would break the "
		    "line-based jobs.txt", what, (unsigned char)*c, (int)(c - word), word);
}

/* Every word of every line of jobs.txt (and the sweep file's path, which sweep.sbatch names). */
static int script_words_ok(const struct sweep *sw, const char *dir, const char *exe, const char *cwd,
			   struct sweep_error *err)
{
	int r = script_word_ok("--out", dir, err);
	if (!r)
		r = script_word_ok("the current folder", cwd, err);
	if (!r)
		r = script_word_ok("eptsim's path", exe, err);
	if (!r)
		r = script_word_ok("the sweep file", sw->path, err);
	for (size_t i = 0; !r && i < sw->nruns; i++) {
		char **argv = sweep_run_argv(sw, i, exe, dir, false);
		for (size_t k = 0; !r && argv[k]; k++)
			if (path_control_char(argv[k]))
				r = fail(err, -EINVAL, "%s: run %s: control character in '%s': refused, it would break "
					 "the line-based jobs.txt", sw->path, sw->names[i], argv[k]);
		sweep_argv_free(argv);
	}
	return r;
}

int sweep_emit_jobs(const struct sweep *sw, const char *dir, const char *exe, bool force, struct sweep_error *err)
{
	char abs_exe[PATH_MAX], cwd[PATH_MAX];
	int r = absolute_paths(exe, abs_exe, cwd, err);
	if (r || (r = script_words_ok(sw, dir, abs_exe, cwd, err)) || (r = sweep_prepare(sw, dir, err)))
		return r;
	struct jobs_ctx j = { sw, dir, abs_exe, cwd, force };
	char *path = join(dir, JOBS);
	r = write_text_atomic(path, write_jobs, &j);
	if (r)
		fail(err, r, "%s: %s", path, strerror(-r));
	free(path);
	return r;
}

struct sbatch_ctx {
	const struct sweep *sw;
	const char *dir, *abs_dir, *exe, *cwd;
};

/* path with Slurm's filename patterns escaped (% -> %%), for --output. */
static char *slurm_literal(const char *path)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	if (!m)
		abort();
	for (; *path; path++) {
		if (*path == '%')
			fputc('%', m);
		fputc(*path, m);
	}
	if (fclose(m))
		abort();
	return out;
}

/* s as one argument of an #SBATCH line: double-quoted for sbatch's own parser (which splits
 * at spaces, honours quotes and backslashes, and ends the line at an unescaped #), with the
 * characters that parser treats specially escaped by a backslash. */
static void sbatch_word(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (strchr("\\\"#'", *s))
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void write_sbatch(FILE *f, void *ctx)
{
	struct sbatch_ctx *s = ctx;
	char *jobs = join(s->abs_dir, JOBS), *slurm = join(s->abs_dir, "slurm"), *script = join(s->dir, SBATCH);
	/* every path a comment shows is a shell word too, so the commands can be pasted */
	fputs("#!/bin/bash\n# eptsim sweep ", f);
	shell_word(f, s->sw->path);
	fprintf(f, ": %zu runs as a Slurm job array, one task per line of jobs.txt.\n#   sbatch ", s->sw->nruns);
	shell_word(f, script);
	fputs("\n#       the array alone; collect afterwards with: eptsim sweep --collect ", f);
	shell_word(f, s->dir);
	fputs("\n#   bash ", f);
	shell_word(f, script);
	fputs("\n#       submits the array and a collect job that runs after it\n"
	      "#       (--dependency=afterany: also when some runs failed)\n"
	      "# Task i runs line i+1 of jobs.txt.  A run already done with the same config hash is\n"
	      "# skipped, so submitting again resumes.  Add #SBATCH lines (partition, time, memory) as needed.\n", f);
	fprintf(f, "#SBATCH --job-name=eptsim-sweep\n"
		"#SBATCH --array=0-%zu\n"
		"#SBATCH --ntasks=1\n"
		"#SBATCH --cpus-per-task=1\n"
		"#SBATCH --output=", s->sw->nruns - 1);
	char *lit = slurm_literal(slurm), *out = NULL;
	if (asprintf(&out, "%s/%%A_%%a.out", lit) < 0)
		abort();
	sbatch_word(f, out);
	free(out);
	fputc('\n', f);
	fputs("set -eu\njobs=", f);
	shell_word(f, jobs);
	fputs("\nif [ -z \"${SLURM_ARRAY_TASK_ID:-}\" ]; then\n"
	      "\t# not a task: submit the array, then the collect job\n\tmkdir -p ", f);
	shell_word(f, slurm);
	fputs("\n\tjid=$(sbatch --parsable \"$0\")\n"
	      "\tjid=${jid%%;*}\n"
	      "\tcollect=", f);
	/* the collect command as one shell word, handed to sbatch --wrap */
	char *cmd = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&cmd, &len);
	if (!m)
		abort();
	fputs("cd ", m);
	shell_word(m, s->cwd);
	fputs(" && ", m);
	shell_word(m, s->exe);
	fputs(" sweep --collect ", m);
	shell_word(m, s->dir);
	if (fclose(m))
		abort();
	shell_word(f, cmd);
	free(cmd);
	fputs("\n\tsbatch --parsable --dependency=afterany:\"$jid\" --job-name=eptsim-sweep-collect \\\n"
	      "\t\t--output=", f);
	if (asprintf(&out, "%s/collect.out", lit) < 0)
		abort();
	shell_word(f, out);
	free(out);
	fputs(" --wrap=\"$collect\"\n", f);
	fprintf(f, "\techo \"submitted array job $jid (%zu runs) and its collect job\"\n"
		"\texit 0\n"
		"fi\n", s->sw->nruns);
	fputs("line=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" \"$jobs\")\n"
	      "if [ -z \"$line\" ]; then\n"
	      "\techo \"eptsim sweep: no line $((SLURM_ARRAY_TASK_ID + 1)) in $jobs\" >&2\n"
	      "\texit 2\n"
	      "fi\n"
	      "exec bash -c \"$line\"\n", f);
	free(jobs);
	free(slurm);
	free(script);
	free(lit);
}

int sweep_emit_slurm(const struct sweep *sw, const char *dir, const char *exe, bool force, struct sweep_error *err)
{
	int r = sweep_emit_jobs(sw, dir, exe, force, err);
	if (r)
		return r;
	char abs_exe[PATH_MAX], cwd[PATH_MAX], abs_dir[PATH_MAX];
	if ((r = absolute_paths(exe, abs_exe, cwd, err)))
		return r;
	if (!realpath(dir, abs_dir))
		return fail(err, -errno, "%s: %s", dir, strerror(errno));
	if ((r = script_word_ok(dir, abs_dir, err)))
		return r;
	char *slurm = join(dir, "slurm");
	r = stats_mkdir_p(slurm);   /* Slurm does not create the --output folder */
	free(slurm);
	if (r)
		return fail(err, r, "%s/slurm: %s", dir, strerror(-r));
	struct sbatch_ctx s = { sw, dir, abs_dir, abs_exe, cwd };
	char *path = join(dir, SBATCH);
	r = write_text_atomic(path, write_sbatch, &s);
	if (r)
		fail(err, r, "%s: %s", path, strerror(-r));
	else if (chmod(path, 0755))
		r = fail(err, -errno, "%s: %s", path, strerror(errno));
	free(path);
	return r;
}

/* ------------------------------------------------------------------ the local back end */

struct slot {
	pid_t pid;
	size_t run;
	double start;
};

static pid_t spawn(const struct sweep *sw, size_t run, const char *exe, const char *dir)
{
	char *rd = run_dir(dir, sw->names[run]);
	char *log = join(rd, STDERR_LOG);
	char **argv = sweep_run_argv(sw, run, exe, dir, false);
	/* A failed rerun must not leave the old results looking current. */
	char *stats = join(rd, "stats.json"), *hash = join(rd, "config.hash");
	unlink(stats);
	unlink(hash);
	free(stats);
	free(hash);
	fflush(NULL);
	pid_t sweep_pid = getpid(), pid = fork();
	if (pid == 0) {
		/* The run dies with the sweep: a SIGKILLed sweep must not leave runs going that a
		 * restarted one would race into the same folders.  SIGTERM, so the run stops
		 * cleanly and writes DIR/partial; the sweep's flag handler is dropped first (a
		 * signal before the exec must kill, not set a flag nobody reads); and the sweep
		 * may have died before prctl(): then the parent is no longer sweep_pid. */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != sweep_pid)
			_exit(127);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		int nul = open("/dev/null", O_RDWR);
		if (fd < 0 || nul < 0 || dup2(fd, STDERR_FILENO) < 0 || dup2(nul, STDOUT_FILENO) < 0 ||
		    dup2(nul, STDIN_FILENO) < 0)
			_exit(127);
		execv(exe, argv);
		dprintf(STDERR_FILENO, "eptsim sweep: exec %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	sweep_argv_free(argv);
	free(log);
	free(rd);
	return pid;
}

int sweep_run_local(const struct sweep *sw, const char *dir, const char *exe, unsigned jobs, bool force,
		    const volatile sig_atomic_t *stop, sweep_progress_fn fn, void *ctx,
		    struct sweep_local_result *res, struct sweep_error *err)
{
	memset(res, 0, sizeof(*res));
	int r = sweep_prepare(sw, dir, err);
	if (r)
		return r;
	if (!jobs)
		jobs = 1;
	size_t *todo = malloc(sw->nruns * sizeof(*todo)), ntodo = 0;
	struct slot *slots = calloc(jobs, sizeof(*slots));
	if (!todo || !slots)
		abort();
	for (size_t i = 0; i < sw->nruns; i++) {
		char *rd = run_dir(dir, sw->names[i]);
		if (!force && sweep_run_state(rd, sw->hashes[i]) == SWEEP_RUN_DONE)
			res->skipped++;
		else
			todo[ntodo++] = i;
		free(rd);
	}
	size_t next = 0, running = 0;
	struct sweep_progress p = { .total = ntodo };
	while (next < ntodo || running) {
		if (stop && *stop) {
			/* SIGINT/SIGTERM: pass it on to the runs under way (each stops cleanly and
			 * writes its partial results), start no more, wait for them below */
			int sig = *stop;
			for (size_t s = 0; s < jobs; s++)
				if (slots[s].pid)
					kill(slots[s].pid, sig);
			res->stopped = running;
			r = fail(err, -EINTR, "interrupted (%s): %zu runs under way stopped, %zu not started",
				 strsignal(sig), running, ntodo - next);
			goto wait_all;
		}
		while (next < ntodo && running < jobs) {
			size_t s = 0;
			while (slots[s].pid)
				s++;
			pid_t pid = spawn(sw, todo[next], exe, dir);
			if (pid < 0) {
				r = fail(err, -errno, "fork: %s", strerror(errno));
				goto wait_all;
			}
			slots[s] = (struct slot){ pid, todo[next++], now_s() };
			running++;
		}
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			r = fail(err, -errno, "waitpid: %s", strerror(errno));
			break;
		}
		size_t s = 0;
		while (s < jobs && slots[s].pid != pid)
			s++;
		if (s == jobs)
			continue;   /* not one of ours */
		size_t run = slots[s].run;
		slots[s].pid = 0;
		running--;
		char *rd = run_dir(dir, sw->names[run]);
		bool exited0 = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		p.ok = exited0 && sweep_run_state(rd, sw->hashes[run]) == SWEEP_RUN_DONE;
		p.status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
		p.run = run;
		p.seconds = now_s() - slots[s].start;
		p.done++;
		res->ran++;
		if (!p.ok) {
			p.failed++;
			res->failed++;
		} else {
			char *log = join(rd, STDERR_LOG);
			struct stat st;
			if (!stat(log, &st) && st.st_size == 0)
				unlink(log);
			free(log);
		}
		free(rd);
		if (fn)
			fn(ctx, &p);
	}
wait_all:
	/* after an error: let the runs already started finish, without starting more */
	while (running) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0 && errno != EINTR)
			break;
		for (size_t s = 0; pid > 0 && s < jobs; s++)
			if (slots[s].pid == pid) {
				slots[s].pid = 0;
				running--;
			}
	}
	free(slots);
	free(todo);
	return r;
}

/* ------------------------------------------------------------------ summary */

/* The summary's columns in a stable order: a stat new to a run goes right after the stat
 * that preceded it in that run (so vcpu.4.* of a 8-vCPU run follow vcpu.3.* of the runs
 * before), kept as a linked list with a name -> node map. */
struct columns {
	char **name;
	size_t *next;     /* node index, or SIZE_MAX at the end */
	size_t n, cap, head, tail;
	json_t *index;    /* name -> node */
};

#define COL_END SIZE_MAX

static size_t columns_add_after(struct columns *c, const char *name, size_t prev)
{
	json_t *hit = json_object_get(c->index, name);
	if (hit)
		return (size_t)json_integer_value(hit);
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->name = xrealloc(c->name, c->cap * sizeof(*c->name));
		c->next = xrealloc(c->next, c->cap * sizeof(*c->next));
	}
	size_t k = c->n++;
	c->name[k] = xstrdup(name);
	if (prev == COL_END) {   /* at the front */
		c->next[k] = c->n == 1 ? COL_END : c->head;
		c->head = k;
		if (c->n == 1)
			c->tail = k;
	} else {
		c->next[k] = c->next[prev];
		c->next[prev] = k;
		if (c->tail == prev)
			c->tail = k;
	}
	json_object_set_new(c->index, name, json_integer((json_int_t)k));
	return k;
}

static void columns_free(struct columns *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->name[i]);
	free(c->name);
	free(c->next);
	json_decref(c->index);
}

/* A run's stats as (column, text) pairs in document order: numbers as they are; histograms
 * as NAME.{count,sum,mean,p50,p99,max}; per-occurrence arrays as NAME.{n,sum,min,mean,max};
 * series are skipped. */
static const char *const hist_fields[] = { "count", "sum", "mean", "p50", "p99", "max" };

static bool put_number(json_t *row, const char *name, json_t *v)
{
	char buf[64];
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		format_real(json_real_value(v), buf, sizeof(buf));
	else if (json_is_boolean(v))
		snprintf(buf, sizeof(buf), "%d", json_is_true(v));
	else
		return false;
	json_object_set_new(row, name, json_string(buf));
	return true;
}

static const char *json_type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_NULL: return "null";
	default: return "a number";
	}
}

/* A stat flatten_stats() cannot read: a warning naming the run's file and the stat. */
static void stat_warning(struct sweep_summary *sum, const char *file, const char *stat, const char *what)
{
	sum->warnings = xrealloc(sum->warnings, (sum->nr_warnings + 1) * sizeof(*sum->warnings));
	if (asprintf(&sum->warnings[sum->nr_warnings++], "%s: stat %s: %s: its cells are left empty", file, stat,
		     what) < 0)
		abort();
}

static bool all_numbers(json_t *arr)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
		if (!json_is_number(e))
			return false;
	return true;
}

static json_t *flatten_stats(json_t *stats, const char *file, struct sweep_summary *sum)
{
	json_t *row = json_object();
	const char *key;
	json_t *v;
	char name[512], buf[64], what[128];
	json_object_foreach(stats, key, v) {
		if (json_is_number(v) || json_is_boolean(v)) {
			put_number(row, key, v);
		} else if (json_is_object(v) && json_object_get(v, "series")) {
			continue;   /* a series: not a scalar */
		} else if (json_is_object(v) && json_object_get(v, "count")) {
			for (size_t i = 0; i < sizeof(hist_fields) / sizeof(hist_fields[0]); i++) {
				json_t *f = json_object_get(v, hist_fields[i]);
				snprintf(name, sizeof(name), "%s.%s", key, hist_fields[i]);
				if (f && !put_number(row, name, f)) {
					snprintf(what, sizeof(what), "the histogram's %s is %s, not a number",
						 hist_fields[i], json_type_name(f));
					stat_warning(sum, file, key, what);
				}
			}
		} else if (json_is_array(v) && !all_numbers(v)) {
			stat_warning(sum, file, key, "an array that holds more than numbers");
		} else if (json_is_array(v)) {
			size_t n = json_array_size(v), i;
			double sum_v = 0, mn = INFINITY, mx = -INFINITY;
			json_t *e;
			json_array_foreach(v, i, e) {
				double d = json_number_value(e);
				sum_v += d;
				mn = d < mn ? d : mn;
				mx = d > mx ? d : mx;
			}
			snprintf(name, sizeof(name), "%s.n", key);
			snprintf(buf, sizeof(buf), "%zu", n);
			json_object_set_new(row, name, json_string(buf));
			snprintf(name, sizeof(name), "%s.sum", key);
			format_real(sum_v, buf, sizeof(buf));
			json_object_set_new(row, name, json_string(buf));
			/* min, mean, max of no occurrence: empty cells */
			snprintf(name, sizeof(name), "%s.min", key);
			format_real(mn, buf, sizeof(buf));
			json_object_set_new(row, name, json_string(n ? buf : ""));
			snprintf(name, sizeof(name), "%s.mean", key);
			format_real(n ? sum_v / (double)n : 0, buf, sizeof(buf));
			json_object_set_new(row, name, json_string(n ? buf : ""));
			snprintf(name, sizeof(name), "%s.max", key);
			format_real(mx, buf, sizeof(buf));
			json_object_set_new(row, name, json_string(n ? buf : ""));
		} else {
			snprintf(what, sizeof(what), "%s, not a number, a histogram, an array or a series",
				 json_type_name(v));
			stat_warning(sum, file, key, what);
		}
	}
	return row;
}

void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n\r") && s[0] != ' ' && (!*s || s[strlen(s) - 1] != ' ')) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

struct csv_ctx {
	json_t *axes, *runs;        /* manifest */
	json_t **rows;              /* per run: flattened stats, or NULL when not done */
	struct columns *cols;
};

static void write_csv(FILE *f, void *ctx)
{
	struct csv_ctx *c = ctx;
	size_t i, a;
	json_t *ax, *run;
	json_array_foreach(c->axes, a, ax) {
		if (a)
			fputc(',', f);
		csv_field(f, json_string_value(json_object_get(ax, "key")));
	}
	for (size_t k = c->cols->n ? c->cols->head : COL_END; k != COL_END; k = c->cols->next[k]) {
		if (k != c->cols->head || json_array_size(c->axes))
			fputc(',', f);
		csv_field(f, c->cols->name[k]);
	}
	fputc('\n', f);
	json_array_foreach(c->runs, i, run) {
		if (!c->rows[i])
			continue;
		json_t *vals = json_object_get(run, "values");
		for (a = 0; a < json_array_size(c->axes); a++) {
			if (a)
				fputc(',', f);
			const char *v = json_string_value(json_array_get(vals, a));
			csv_field(f, v ? v : "");
		}
		for (size_t k = c->cols->n ? c->cols->head : COL_END; k != COL_END; k = c->cols->next[k]) {
			if (k != c->cols->head || json_array_size(c->axes))
				fputc(',', f);
			const char *v = json_string_value(json_object_get(c->rows[i], c->cols->name[k]));
			csv_field(f, v ? v : "");
		}
		fputc('\n', f);
	}
}

/* ---- replicates: the runs of summary.csv grouped by every axis but the seed */

struct rep_ctx {
	json_t *axes, *runs;
	json_t **rows;
	struct columns *cols;
	size_t seed_axis;
	size_t *point;       /* per run: its point, or SIZE_MAX when not done */
	size_t *first;       /* per point: its first done run (gives the axis values) */
	size_t npoints;
	double *vals;        /* scratch: one stat's values at one point */
};

/* One stat at one point: the numbers its done runs have (empty cells left out). */
static void rep_stat(const struct rep_ctx *c, size_t p, const char *col, struct repstat *st)
{
	size_t n = 0;
	for (size_t i = 0; i < json_array_size(c->runs); i++) {
		if (c->point[i] != p)
			continue;
		const char *v = json_string_value(json_object_get(c->rows[i], col));
		char *end;
		double d = v && *v ? strtod(v, &end) : NAN;
		if (v && *v && !*end && isfinite(d))
			c->vals[n++] = d;
	}
	repstat_compute(c->vals, n, st);
}

static void rep_real(FILE *f, double d)
{
	if (isfinite(d))
		fprintf(f, "%.10g", d);
}

static void write_replicates_csv(FILE *f, void *ctx)
{
	struct rep_ctx *c = ctx;
	size_t a, na = json_array_size(c->axes);
	json_t *ax;
	json_array_foreach(c->axes, a, ax) {
		if (a == c->seed_axis)
			continue;
		csv_field(f, json_string_value(json_object_get(ax, "key")));
		fputc(',', f);
	}
	fputs("stat,n,mean,sd,ci95\n", f);
	for (size_t p = 0; p < c->npoints; p++) {
		json_t *vals = json_object_get(json_array_get(c->runs, c->first[p]), "values");
		for (size_t k = c->cols->n ? c->cols->head : COL_END; k != COL_END; k = c->cols->next[k]) {
			struct repstat st;
			rep_stat(c, p, c->cols->name[k], &st);
			if (!st.n)
				continue;
			for (a = 0; a < na; a++) {
				if (a == c->seed_axis)
					continue;
				const char *v = json_string_value(json_array_get(vals, a));
				csv_field(f, v ? v : "");
				fputc(',', f);
			}
			csv_field(f, c->cols->name[k]);
			fprintf(f, ",%zu,", st.n);
			rep_real(f, st.mean);
			fputc(',', f);
			rep_real(f, st.sd);
			fputc(',', f);
			rep_real(f, st.ci95);
			fputc('\n', f);
		}
	}
}

static json_t *rep_json_real(double d)
{
	return isfinite(d) ? json_real(d) : json_null();
}

static json_t *replicates_doc(const struct rep_ctx *c)
{
	json_t *doc = json_object(), *points = json_array();
	json_t *seed_ax = json_array_get(c->axes, c->seed_axis);
	json_object_set_new(doc, "eptsim_replicates", json_integer(REPLICATES_VERSION));
	json_object_set(doc, "seed_key", json_object_get(seed_ax, "key"));
	json_object_set(doc, "seeds", json_object_get(seed_ax, "values"));
	json_object_set_new(doc, "ci", json_string("95% interval of the mean: t(0.975, n-1) * sd / sqrt(n)"));
	for (size_t p = 0; p < c->npoints; p++) {
		json_t *pt = json_object(), *values = json_object(), *seeds = json_array(), *stats = json_object();
		json_t *vals = json_object_get(json_array_get(c->runs, c->first[p]), "values");
		size_t a;
		json_t *ax;
		json_array_foreach(c->axes, a, ax)
			if (a != c->seed_axis)
				json_object_set(values, json_string_value(json_object_get(ax, "key")),
						json_array_get(vals, a));
		for (size_t i = 0; i < json_array_size(c->runs); i++)
			if (c->point[i] == p)
				json_array_append(seeds, json_array_get(json_object_get(json_array_get(c->runs, i),
											"values"), c->seed_axis));
		for (size_t k = c->cols->n ? c->cols->head : COL_END; k != COL_END; k = c->cols->next[k]) {
			struct repstat st;
			rep_stat(c, p, c->cols->name[k], &st);
			if (!st.n)
				continue;
			json_t *o = json_object();
			json_object_set_new(o, "n", json_integer((json_int_t)st.n));
			json_object_set_new(o, "mean", rep_json_real(st.mean));
			json_object_set_new(o, "sd", rep_json_real(st.sd));
			json_object_set_new(o, "ci95", rep_json_real(st.ci95));
			json_object_set_new(stats, c->cols->name[k], o);
		}
		json_object_set_new(pt, "values", values);
		json_object_set_new(pt, "seeds", seeds);
		json_object_set_new(pt, "stats", stats);
		json_array_append_new(points, pt);
	}
	json_object_set_new(doc, "points", points);
	return doc;
}

/* The manifest's seeds axis, or SIZE_MAX. */
static size_t manifest_seed_axis(json_t *axes)
{
	size_t a;
	json_t *ax;
	json_array_foreach(axes, a, ax)
		if (json_is_true(json_object_get(ax, "seeds")))
			return a;
	return SIZE_MAX;
}

/* DIR/summary-replicates.csv and DIR/replicates.json of a sweep with a seeds axis. */
static int write_replicates(const char *dir, json_t *axes, json_t *runs, json_t **rows, struct columns *cols,
			    struct sweep_summary *sum, struct sweep_error *err)
{
	size_t n = json_array_size(runs), sa = manifest_seed_axis(axes);
	if (sa == SIZE_MAX)
		return 0;
	struct rep_ctx c = { axes, runs, rows, cols, sa, calloc(n + 1, sizeof(size_t)), calloc(n + 1, sizeof(size_t)),
			     0, calloc(n + 1, sizeof(double)) };
	json_t *index = json_object();
	if (!c.point || !c.first || !c.vals)
		abort();
	for (size_t i = 0; i < n; i++) {
		c.point[i] = SIZE_MAX;
		if (!rows[i])
			continue;
		/* the point's key: its values but the seed's, joined by a character no value has */
		char *key = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&key, &len);
		json_t *vals = json_object_get(json_array_get(runs, i), "values");
		for (size_t a = 0; f && a < json_array_size(vals); a++)
			if (a != sa)
				fprintf(f, "%s\x1f", json_string_value(json_array_get(vals, a)) ?: "");
		if (!f || fclose(f))
			abort();
		json_t *hit = json_object_get(index, key);
		if (hit) {
			c.point[i] = (size_t)json_integer_value(hit);
		} else {
			c.first[c.npoints] = i;
			c.point[i] = c.npoints;
			json_object_set_new(index, key, json_integer((json_int_t)c.npoints++));
		}
		free(key);
	}
	json_decref(index);
	sum->nr_points = c.npoints;
	char *path = join(dir, SUMMARY_REPLICATES);
	int r = write_text_atomic(path, write_replicates_csv, &c);
	if (r)
		fail(err, r, "%s: %s", path, strerror(-r));
	free(path);
	if (!r) {
		json_t *doc = replicates_doc(&c);
		path = join(dir, REPLICATES_JSON);
		if ((r = write_json_atomic(doc, path)))
			fail(err, r, "%s: %s", path, strerror(-r));
		free(path);
		json_decref(doc);
	}
	free(c.point);
	free(c.first);
	free(c.vals);
	return r;
}

void sweep_summary_free(struct sweep_summary *sum)
{
	for (size_t i = 0; i < sum->nr_missing; i++) {
		free(sum->missing[i].name);
		free(sum->missing[i].why);
	}
	free(sum->missing);
	for (size_t i = 0; i < sum->nr_warnings; i++)
		free(sum->warnings[i]);
	free(sum->warnings);
	memset(sum, 0, sizeof(*sum));
}

int sweep_collect(const char *dir, struct sweep_summary *sum, struct sweep_error *err)
{
	memset(sum, 0, sizeof(*sum));
	char *mpath = join(dir, MANIFEST);
	int r = 0;
	json_t *man = path_load_json(mpath, &r, err->msg, sizeof(err->msg));
	json_t *axes = json_object_get(man, "axes"), *runs = json_object_get(man, "runs");
	if (!man) {
		if (r == -ENOENT)
			fail(err, r, "%s: %s (not a sweep folder?)", mpath, strerror(ENOENT));
		free(mpath);
		return r == -ENOENT || r == -EIO ? r : -EINVAL;
	}
	if (json_integer_value(json_object_get(man, "eptsim_sweep")) != MANIFEST_VERSION || !json_is_array(axes) ||
	    !json_is_array(runs)) {
		r = fail(err, -EINVAL, "%s: not an eptsim sweep manifest of version %d", mpath, MANIFEST_VERSION);
		json_decref(man);
		free(mpath);
		return r;
	}
	free(mpath);
	struct columns cols = { .index = json_object(), .head = COL_END, .tail = COL_END };
	size_t n = json_array_size(runs), i;
	json_t **rows = calloc(n ? n : 1, sizeof(*rows)), *run;
	if (!rows)
		abort();
	sum->nr_runs = n;
	json_array_foreach(runs, i, run) {
		const char *name = json_string_value(json_object_get(run, "name"));
		const char *hash = json_string_value(json_object_get(run, "config_hash"));
		if (!name || !hash || strchr(name, '/')) {
			r = fail(err, -EINVAL, "%s/" MANIFEST ": run %zu: no name or config_hash", dir, i);
			goto out;
		}
		char *rd = run_dir(dir, name), why[PATH_MAX + 512];
		json_t *doc;
		enum sweep_run_state st = run_state_doc(rd, hash, &doc, why, sizeof(why));
		if (st != SWEEP_RUN_DONE) {
			free(rd);
			sum->missing = xrealloc(sum->missing, (sum->nr_missing + 1) * sizeof(*sum->missing));
			sum->missing[sum->nr_missing++] = (struct sweep_missing){ xstrdup(name), st,
										   why[0] ? xstrdup(why) : NULL };
			continue;
		}
		char *file = join(rd, "stats.json");
		rows[i] = flatten_stats(json_object_get(doc, "stats"), file, sum);
		free(file);
		free(rd);
		json_decref(doc);
		sum->nr_done++;
		/* merge this run's columns into the order */
		size_t prev = COL_END;
		const char *col;
		json_t *v;
		json_object_foreach(rows[i], col, v)
			prev = columns_add_after(&cols, col, prev);
	}
	sum->nr_columns = cols.n;
	struct csv_ctx c = { axes, runs, rows, &cols };
	char *cpath = join(dir, SUMMARY);
	r = write_text_atomic(cpath, write_csv, &c);
	if (r)
		fail(err, r, "%s: %s", cpath, strerror(-r));
	free(cpath);
	if (!r)
		r = write_replicates(dir, axes, runs, rows, &cols, sum, err);
out:
	for (i = 0; i < n; i++)
		json_decref(rows[i]);
	free(rows);
	columns_free(&cols);
	json_decref(man);
	if (r)
		sweep_summary_free(sum);
	return r;
}
