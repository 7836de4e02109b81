// SPDX-License-Identifier: GPL-2.0
/* Benchmark statistics and the CSV/JSON result files: see stats.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "stats.h"

int lat_init(struct lat_buf *b, size_t cap)
{
	b->n = b->dropped = 0;
	b->cap = cap;
	b->v = cap ? malloc(cap * sizeof(*b->v)) : NULL;
	return cap && !b->v ? -ENOMEM : 0;
}

void lat_free(struct lat_buf *b)
{
	free(b->v);
	b->v = NULL;
	b->n = b->cap = b->dropped = 0;
}

int lat_append(struct lat_buf *dst, const struct lat_buf *src)
{
	if (dst->n + src->n > dst->cap) {
		size_t cap = (dst->n + src->n) * 2;
		uint64_t *v = realloc(dst->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		dst->v = v;
		dst->cap = cap;
	}
	if (src->n)
		memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
	dst->n += src->n;
	dst->dropped += src->dropped;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

uint64_t lat_quantile(struct lat_buf *b, double q)
{
	size_t i;

	if (!b->n)
		return 0;
	qsort(b->v, b->n, sizeof(*b->v), cmp_u64);
	/* nearest rank: the smallest sample with at least q of them <= it */
	i = (size_t)ceil(q * (double)b->n);
	if (i)
		i--;
	if (i >= b->n)
		i = b->n - 1;
	return b->v[i];
}

double stats_median_u64(uint64_t *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

void stats_summary(double *v, int n, struct summary *s)
{
	memset(s, 0, sizeof(*s));
	if (n <= 0)
		return;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	s->n = n;
	s->min = v[0];
	s->max = v[n - 1];
	s->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s->spread_pct = s->median > 0 ? (s->max - s->min) / s->median * 100 : 0;
}

void row_summarize(struct row *row, double *v, int n, struct lat_buf *lat)
{
	memcpy(row->values, v,
	       (size_t)(n < STATS_MAX_REPEATS ? n : STATS_MAX_REPEATS) *
	       sizeof(*v));
	stats_summary(v, n, &row->s);
	row->has_lat = lat && lat->n;
	if (row->has_lat) {
		row->p50 = lat_quantile(lat, 0.50);
		row->p99 = lat_quantile(lat, 0.99);
		row->p999 = lat_quantile(lat, 0.999);
	}
}

struct row row_of_value(const char *group, const char *transport,
			const char *metric, const char *unit, double v)
{
	struct row row = {
		.group = group, .transport = transport,
		.metric = metric, .unit = unit,
	};

	row_summarize(&row, &v, 1, NULL);
	return row;
}

/* No commas, quotes, backslashes or control characters in a field. */
static void clean(char *s)
{
	for (; *s; s++)
		if (*s == ',' || *s == '"' || *s == '\\' ||
		    (unsigned char)*s < 0x20)
			*s = ' ';
}

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		s[--n] = 0;
	n = strspn(s, " \t");
	memmove(s, s + n, strlen(s + n) + 1);
}

void results_init(struct results *r, const char *where)
{
	struct utsname u;
	char line[256];
	FILE *f;

	memset(r, 0, sizeof(*r));
	snprintf(r->where, sizeof(r->where), "%s", where);
	snprintf(r->cpu, sizeof(r->cpu), "unknown");
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(r->cpu, sizeof(r->cpu), "%s", c + 1);
			break;
		}
	}
	if (f)
		fclose(f);
	snprintf(r->kernel, sizeof(r->kernel), "unknown");
	if (!uname(&u))
		snprintf(r->kernel, sizeof(r->kernel), "%s", u.release);
	trim(r->cpu);
	clean(r->cpu);
	clean(r->kernel);
}

static char *dup_clean(const char *s)
{
	char *d = strdup(s ? s : "");

	if (d)
		clean(d);
	return d;
}

int results_add(struct results *r, const struct row *row)
{
	struct row *d;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct row *v = realloc(r->rows, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->rows = v;
		r->cap = cap;
	}
	d = &r->rows[r->n];
	*d = *row;
	d->group = dup_clean(row->group);
	d->transport = dup_clean(row->transport);
	d->metric = dup_clean(row->metric);
	d->unit = dup_clean(row->unit);
	if (!d->group || !d->transport || !d->metric || !d->unit)
		return -ENOMEM;
	r->n++;
	return 0;
}

int results_skip(struct results *r, const char *group, const char *transport,
		 uint64_t msg_bytes, const char *reason)
{
	struct row row = {
		.group = group, .transport = transport, .msg_bytes = msg_bytes,
		.metric = "skipped", .unit = reason,
	};

	return results_add(r, &row);
}

/* A number as CSV/JSON wants it: integers plainly, else 7 significant
 * digits.
 */
static void num(char *buf, size_t len, double v)
{
	if (v == (double)(int64_t)v && fabs(v) < 1e15)
		snprintf(buf, len, "%lld", (long long)v);
	else
		snprintf(buf, len, "%.7g", v);
}

struct fields {
	char median[32], min[32], max[32], spread[32];
	char p50[32], p99[32], p999[32];
	char values[STATS_MAX_REPEATS * 24];	/* joined by sep */
};

static void fields_of(const struct row *w, struct fields *f, char sep)
{
	size_t len = 0;
	int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < w->s.n && i < STATS_MAX_REPEATS; i++) {
		if (i)
			f->values[len++] = sep;
		num(f->values + len, sizeof(f->values) - len, w->values[i]);
		len += strlen(f->values + len);
	}
	if (w->s.n) {
		num(f->median, sizeof(f->median), w->s.median);
		num(f->min, sizeof(f->min), w->s.min);
		num(f->max, sizeof(f->max), w->s.max);
		snprintf(f->spread, sizeof(f->spread), "%.2f", w->s.spread_pct);
	}
	if (w->has_lat) {
		snprintf(f->p50, sizeof(f->p50), "%llu",
			 (unsigned long long)w->p50);
		snprintf(f->p99, sizeof(f->p99), "%llu",
			 (unsigned long long)w->p99);
		snprintf(f->p999, sizeof(f->p999), "%llu",
			 (unsigned long long)w->p999);
	}
}

void results_csv_header(FILE *f)
{
	fprintf(f, "%s\n", STATS_CSV_HEADER);
}

void results_csv_row(FILE *f, const struct results *r, const struct row *w)
{
	struct fields v;

	fields_of(w, &v, ';');
	fprintf(f, "%s,%s,%s,%s,%s,%llu,%s,%s,%s,%s,%s,%s,%s,%s,%s,%d,%s\n",
		r->where, r->cpu, r->kernel, w->group, w->transport,
		(unsigned long long)w->msg_bytes, w->metric, w->unit,
		v.median, v.p50, v.p99, v.p999, v.min, v.max, v.spread, w->s.n,
		v.values);
}

static int write_csv(const struct results *r, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t i;

	if (!f)
		return -errno;
	results_csv_header(f);
	for (i = 0; i < r->n; i++)
		results_csv_row(f, r, &r->rows[i]);
	return fclose(f) ? -errno : 0;
}

static const char *jnum(const char *s)
{
	return *s ? s : "null";
}

static int write_json(const struct results *r, const char *path)
{
	FILE *f = fopen(path, "w");
	struct fields v;
	size_t i;

	if (!f)
		return -errno;
	fprintf(f, "[\n");
	for (i = 0; i < r->n; i++) {
		const struct row *w = &r->rows[i];

		fields_of(w, &v, ',');
		fprintf(f, "  {\"where\": \"%s\", \"cpu\": \"%s\", "
			"\"kernel\": \"%s\", \"group\": \"%s\", "
			"\"transport\": \"%s\", \"msg_bytes\": %llu, "
			"\"metric\": \"%s\", \"unit\": \"%s\", "
			"\"median\": %s, \"p50\": %s, \"p99\": %s, "
			"\"p999\": %s, \"min\": %s, \"max\": %s, "
			"\"spread_pct\": %s, \"repeats\": %d, "
			"\"values\": [%s]}%s\n",
			r->where, r->cpu, r->kernel, w->group, w->transport,
			(unsigned long long)w->msg_bytes, w->metric, w->unit,
			jnum(v.median), jnum(v.p50), jnum(v.p99), jnum(v.p999),
			jnum(v.min), jnum(v.max), jnum(v.spread), w->s.n,
			v.values, i + 1 < r->n ? "," : "");
	}
	fprintf(f, "]\n");
	return fclose(f) ? -errno : 0;
}

int results_write(const struct results *r, const char *csv_path,
		  const char *json_path)
{
	int ret = 0;

	if (csv_path)
		ret = write_csv(r, csv_path);
	if (!ret && json_path)
		ret = write_json(r, json_path);
	return ret;
}

void results_free(struct results *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free((char *)r->rows[i].group);
		free((char *)r->rows[i].transport);
		free((char *)r->rows[i].metric);
		free((char *)r->rows[i].unit);
	}
	free(r->rows);
	memset(r, 0, sizeof(*r));
}
