// SPDX-License-Identifier: GPL-2.0
/* sim/summary — a sweep folder read back.  See summary.h for the contract.
 *
 * summary.csv is read whole and split into fields in place (RFC 4180 quoting: a quoted
 * field may hold commas, quotes doubled, line breaks); each row is then matched to the
 * manifest's run with the same axis values.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim/gnuplot.h"
#include "sim/paths.h"
#include "sim/summary.h"

#define SUMMARY_MANIFEST "sweep.json"
#define SUMMARY_CSV	 "summary.csv"

struct summary_axis {
	const char *key, *name;		/* into the manifest */
	const char **values;
	size_t nvalues;
	bool numeric;
	int col;			/* its column in summary.csv */
};

struct summary {
	char *dir, *name;
	json_t *man;			/* sweep.json */
	json_t *first;			/* the first row's stats.json, or NULL */
	struct summary_axis *axes;
	size_t naxes;
	char *text;			/* summary.csv, split in place */
	char **cols;
	size_t ncols;
	char ***rows;			/* rows[r][c] */
	const char **row_name;		/* run name of each row */
	size_t nrows;
	int freq_axis;			/* axis that is cpu.freq_mhz, or -1 */
	int seed_axis;			/* the axis of a seeds = line, or -1 */
	double freq_mhz;		/* from the first row's config */
};

bool summary_parse(const char *text, double *v)
{
	char *end;
	double d;

	if (!text || !*text)
		return false;
	errno = 0;
	d = strtod(text, &end);
	if (end == text || errno == ERANGE || !isfinite(d))
		return false;
	switch (*end) {
	case 'K': case 'k': d *= 1024.0; end++; break;
	case 'M': case 'm': d *= 1024.0 * 1024; end++; break;
	case 'G': case 'g': d *= 1024.0 * 1024 * 1024; end++; break;
	case 'T': case 't': d *= 1024.0 * 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end)
		return false;
	*v = d;
	return true;
}

static char *summary_slurp(const char *path, int *ret, char *err, size_t errlen)
{
	FILE *f = path_open_regular(path, ret, err, errlen);
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 65536) {
			char *nb = realloc(buf, cap ? 2 * cap : 65536);

			if (!nb) {
				free(buf);
				fclose(f);
				*ret = -ENOMEM;
				return NULL;
			}
			buf = nb;
			cap = cap ? 2 * cap : 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		*ret = -EIO;
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* One field starting at *p, unquoted in place; *p moves past its separator, *eol tells
 * whether it ended the record.  NULL at the end of the text or on a malformed quote. */
static char *csv_field(char **p, bool *eol, bool *bad)
{
	char *s = *p, *w, *start;

	*eol = false;
	if (!*s)
		return NULL;
	if (*s == '"') {
		start = w = ++s;
		for (;;) {
			if (!*s) {
				*bad = true;
				return NULL;
			}
			if (*s == '"') {
				if (s[1] == '"') {
					*w++ = '"';
					s += 2;
					continue;
				}
				s++;
				break;
			}
			*w++ = *s++;
		}
		*w = '\0';
		if (*s == '\r')
			s++;
		if (*s && *s != ',' && *s != '\n') {
			*bad = true;
			return NULL;
		}
	} else {
		start = s;
		while (*s && *s != ',' && *s != '\n')
			s++;
		w = s;
		if (w > start && w[-1] == '\r')
			w--;
	}
	*eol = *s != ',';
	if (*s)
		s++;
	*w = '\0';
	*p = s;
	return start;
}

/* The fields of the record at *p into a new array (count in *n).  NULL at the end. */
static char **csv_record(char **p, size_t *n, bool *bad)
{
	char **f = NULL, *v;
	size_t cap = 0;
	bool eol = false;

	*n = 0;
	if (!**p)
		return NULL;
	while (!eol && (v = csv_field(p, &eol, bad))) {
		if (*n == cap) {
			char **nf = realloc(f, (cap = cap ? 2 * cap : 64) * sizeof(*f));

			if (!nf) {
				free(f);
				*bad = true;
				return NULL;
			}
			f = nf;
		}
		f[(*n)++] = v;
	}
	if (*bad) {
		free(f);
		return NULL;
	}
	return f;
}

static int summary_read_manifest(struct summary *s, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret;
	json_t *axes, *ax, *sf;
	size_t a;

	snprintf(path, sizeof(path), "%s/" SUMMARY_MANIFEST, s->dir);
	s->man = path_load_json(path, &ret, err, errlen);
	if (!s->man) {
		if (ret == -ENOENT) {
			gp_err(err, errlen, "%s: %s (not a sweep folder?)", path, strerror(-ret));
			return -ENOENT;
		}
		return ret == -EIO ? ret : -EINVAL;
	}
	axes = json_object_get(s->man, "axes");
	if (!json_is_array(axes) || !json_is_array(json_object_get(s->man, "runs"))) {
		gp_err(err, errlen, "%s: not an eptsim sweep manifest", path);
		return -EINVAL;
	}
	s->naxes = json_array_size(axes);
	s->axes = calloc(s->naxes ? s->naxes : 1, sizeof(*s->axes));
	if (!s->axes)
		return -ENOMEM;
	s->freq_axis = -1;
	s->seed_axis = -1;
	json_array_foreach(axes, a, ax) {
		struct summary_axis *x = &s->axes[a];
		json_t *vals = json_object_get(ax, "values"), *v;
		size_t i;

		x->key = json_string_value(json_object_get(ax, "key"));
		x->name = json_string_value(json_object_get(ax, "name"));
		if (!x->key || !x->name || !json_is_array(vals)) {
			gp_err(err, errlen, "%s: axis %zu has no key, name or values", path, a);
			return -EINVAL;
		}
		x->nvalues = json_array_size(vals);
		x->values = calloc(x->nvalues ? x->nvalues : 1, sizeof(*x->values));
		if (!x->values)
			return -ENOMEM;
		x->numeric = x->nvalues > 0;
		json_array_foreach(vals, i, v) {
			double d;

			x->values[i] = json_string_value(v) ? json_string_value(v) : "";
			if (!summary_parse(x->values[i], &d))
				x->numeric = false;
		}
		if (!strcmp(x->key, "cpu.freq_mhz"))
			s->freq_axis = (int)a;
		if (json_is_true(json_object_get(ax, "seeds")))
			s->seed_axis = (int)a;
	}
	sf = json_object_get(s->man, "sweep_file");
	if (json_is_string(sf)) {
		const char *p = json_string_value(sf), *b = strrchr(p, '/');
		char *dot;

		s->name = strdup(b ? b + 1 : p);
		if (s->name && (dot = strrchr(s->name, '.')) && dot != s->name)
			*dot = '\0';
	} else {
		size_t end = strlen(s->dir), start;

		while (end > 1 && s->dir[end - 1] == '/')
			end--;
		for (start = end; start && s->dir[start - 1] != '/'; start--)
			;
		s->name = strndup(s->dir + start, end - start);
	}
	return s->name ? 0 : -ENOMEM;
}

/* The manifest's run whose values are the row's axis cells. */
static const char *summary_match_run(const struct summary *s, char **row)
{
	json_t *runs = json_object_get(s->man, "runs"), *run;
	size_t i;

	json_array_foreach(runs, i, run) {
		json_t *vals = json_object_get(run, "values");
		bool same = json_array_size(vals) == s->naxes;

		for (size_t a = 0; same && a < s->naxes; a++) {
			const char *v = json_string_value(json_array_get(vals, a));

			same = v && !strcmp(v, row[s->axes[a].col]);
		}
		if (same)
			return json_string_value(json_object_get(run, "name"));
	}
	return NULL;
}

static int summary_read_csv(struct summary *s, char *err, size_t errlen)
{
	char path[PATH_MAX], *p;
	size_t cap = 0, n, line = 1;
	bool bad = false;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/" SUMMARY_CSV, s->dir);
	s->text = summary_slurp(path, &ret, err, errlen);
	if (!s->text) {
		if (ret == -ENOENT)
			gp_err(err, errlen, "%s: %s (run eptsim sweep --collect first)", path, strerror(-ret));
		else if (ret == -EIO)
			gp_err(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	p = s->text;
	s->cols = csv_record(&p, &s->ncols, &bad);
	if (!s->cols) {
		gp_err(err, errlen, "%s:1: %s", path, bad ? "malformed header" : "empty file");
		return -EINVAL;
	}
	for (size_t a = 0; a < s->naxes; a++) {
		s->axes[a].col = -1;
		for (size_t c = 0; c < s->ncols; c++)
			if (!strcmp(s->cols[c], s->axes[a].key)) {
				s->axes[a].col = (int)c;
				break;
			}
		if (s->axes[a].col < 0) {
			gp_err(err, errlen, "%s:1: no column for axis %s", path, s->axes[a].key);
			return -EINVAL;
		}
	}
	for (;;) {
		char **row = csv_record(&p, &n, &bad);

		line++;
		if (!row) {
			if (bad) {
				gp_err(err, errlen, "%s:%zu: malformed quoted field", path, line);
				return -EINVAL;
			}
			break;
		}
		if (n == 1 && !row[0][0]) {	/* a blank line */
			free(row);
			continue;
		}
		if (n != s->ncols) {
			gp_err(err, errlen, "%s:%zu: %zu fields, the header has %zu", path, line,
				    n, s->ncols);
			free(row);
			return -EINVAL;
		}
		if (s->nrows == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			char ***nr = realloc(s->rows, ncap * sizeof(*nr));
			const char **nn = realloc(s->row_name, ncap * sizeof(*nn));

			if (nr)
				s->rows = nr;
			if (nn)
				s->row_name = nn;
			if (!nr || !nn) {
				free(row);
				return -ENOMEM;
			}
			cap = ncap;
		}
		s->rows[s->nrows] = row;
		s->row_name[s->nrows] = summary_match_run(s, row);
		if (!s->row_name[s->nrows]) {
			gp_err(err, errlen, "%s:%zu: no run of " SUMMARY_MANIFEST " has these axis "
				    "values", path, line);
			s->nrows++;
			return -EINVAL;
		}
		s->nrows++;
	}
	return 0;
}

/* Units and the clock from the first row's stats.json (optional: a missing one leaves
 * units unknown and the clock at 0). */
static void summary_read_first(struct summary *s)
{
	char path[PATH_MAX], err[PATH_MAX + 128];
	json_t *f;
	int ret;

	if (!s->nrows)
		return;
	snprintf(path, sizeof(path), "%s/runs/%s/stats.json", s->dir, s->row_name[0]);
	s->first = path_load_json(path, &ret, err, sizeof(err));   /* optional; never blocks on a FIFO */
	f = json_object_get(json_object_get(json_object_get(s->first, "config"), "cpu"),
			    "freq_mhz");
	if (json_is_number(f))
		s->freq_mhz = json_number_value(f);
}

int summary_load(const char *dir, struct summary **out, char *err, size_t errlen)
{
	struct summary *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		gp_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = summary_read_manifest(s, err, errlen);
	if (!ret)
		ret = summary_read_csv(s, err, errlen);
	if (ret) {
		if (ret == -ENOMEM)
			gp_err(err, errlen, "out of memory");
		summary_free(s);
		return ret;
	}
	summary_read_first(s);
	*out = s;
	return 0;
}

void summary_free(struct summary *s)
{
	if (!s)
		return;
	for (size_t a = 0; a < s->naxes; a++)
		free(s->axes[a].values);
	free(s->axes);
	for (size_t r = 0; r < s->nrows; r++)
		free(s->rows[r]);
	free(s->rows);
	free(s->row_name);
	free(s->cols);
	free(s->text);
	json_decref(s->man);
	json_decref(s->first);
	free(s->name);
	free(s->dir);
	free(s);
}

const char *summary_dir(const struct summary *s) { return s->dir; }
const char *summary_name(const struct summary *s) { return s->name; }
const char *summary_sweep_file(const struct summary *s)
{
	return json_string_value(json_object_get(s->man, "sweep_file"));
}

const char *summary_base(const struct summary *s)
{
	return json_string_value(json_object_get(s->man, "base"));
}

size_t summary_nr_runs(const struct summary *s)
{
	return json_array_size(json_object_get(s->man, "runs"));
}

size_t summary_nr_axes(const struct summary *s) { return s->naxes; }
const char *summary_axis_key(const struct summary *s, size_t a) { return s->axes[a].key; }
const char *summary_axis_name(const struct summary *s, size_t a) { return s->axes[a].name; }
size_t summary_axis_nr_values(const struct summary *s, size_t a) { return s->axes[a].nvalues; }
const char *summary_axis_value(const struct summary *s, size_t a, size_t i)
{
	return s->axes[a].values[i];
}
bool summary_axis_numeric(const struct summary *s, size_t a) { return s->axes[a].numeric; }
int summary_seed_axis(const struct summary *s) { return s->seed_axis; }

int summary_axis_find(const struct summary *s, const char *name)
{
	for (size_t a = 0; a < s->naxes; a++)
		if (!strcmp(s->axes[a].key, name))
			return (int)a;
	for (size_t a = 0; a < s->naxes; a++)
		if (!strcmp(s->axes[a].name, name))
			return (int)a;
	return -1;
}

size_t summary_nr_rows(const struct summary *s) { return s->nrows; }
size_t summary_nr_columns(const struct summary *s) { return s->ncols; }
const char *summary_column_name(const struct summary *s, size_t c) { return s->cols[c]; }

int summary_column(const struct summary *s, const char *name)
{
	int a;

	for (size_t c = 0; c < s->ncols; c++)
		if (!strcmp(s->cols[c], name))
			return (int)c;
	a = summary_axis_find(s, name);
	return a >= 0 ? s->axes[a].col : -1;
}

const char *summary_cell(const struct summary *s, size_t row, size_t col)
{
	return s->rows[row][col];
}

bool summary_number(const struct summary *s, size_t row, size_t col, double *v)
{
	return summary_parse(s->rows[row][col], v);
}

const char *summary_row_name(const struct summary *s, size_t row) { return s->row_name[row]; }

const char *summary_row_value(const struct summary *s, size_t row, size_t axis)
{
	return s->rows[row][s->axes[axis].col];
}

/* The suffixes sweep --collect gives histograms and arrays, and what the unit becomes. */
static const struct {
	const char *suffix;
	const char *kind;	/* stat_info kind it applies to */
	const char *unit;	/* NULL: the stat's own unit */
} summary_suffix[] = {
	{ ".count", "histogram", "samples" }, { ".sum", "histogram", NULL },
	{ ".mean", "histogram", NULL }, { ".p50", "histogram", NULL },
	{ ".p99", "histogram", NULL }, { ".max", "histogram", NULL },
	{ ".n", "array", "occurrences" }, { ".sum", "array", NULL }, { ".min", "array", NULL },
	{ ".mean", "array", NULL }, { ".max", "array", NULL },
};

const char *summary_column_unit(const struct summary *s, size_t col)
{
	json_t *info = json_object_get(s->first, "stat_info"), *si;
	const char *name = s->cols[col];
	size_t len = strlen(name);
	char base[512];

	si = json_object_get(info, name);
	if (si)
		return json_string_value(json_object_get(si, "unit"));
	for (size_t i = 0; i < sizeof(summary_suffix) / sizeof(summary_suffix[0]); i++) {
		size_t sl = strlen(summary_suffix[i].suffix);

		if (len <= sl || len - sl >= sizeof(base) ||
		    strcmp(name + len - sl, summary_suffix[i].suffix))
			continue;
		snprintf(base, sizeof(base), "%.*s", (int)(len - sl), name);
		si = json_object_get(info, base);
		if (!si || !json_is_string(json_object_get(si, "kind")) ||
		    strcmp(json_string_value(json_object_get(si, "kind")), summary_suffix[i].kind))
			continue;
		return summary_suffix[i].unit ? summary_suffix[i].unit :
		       json_string_value(json_object_get(si, "unit"));
	}
	return NULL;
}

double summary_freq_mhz(const struct summary *s, size_t row)
{
	double v;

	if (s->freq_axis >= 0 && summary_parse(summary_row_value(s, row, (size_t)s->freq_axis), &v))
		return v;
	return s->freq_mhz;
}
