/* workloads/elfsym — function symbols of the traced program, and per-function counters.
 *
 * Each elfsym_add() reads one ELF file with libelf: its function symbols and its executable
 * PT_LOAD segments, relocated by the load bias.  The symbols of one file are deduplicated
 * (aliases at one address keep the most readable name) and the zero-sized ones, which
 * hand-written assembly leaves behind, are given the room up to the next symbol.  The file's
 * symbols then join those already loaded, and the whole set is cut into non-overlapping
 * ranges, so a lookup is one binary search.  The file is read completely before anything is
 * added, so a failed add leaves the set as it was.
 */
#include "workloads/elfsym.h"
#include "sim/numparse.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNKNOWN_NAME "[unknown]"

struct sym {
	uint64_t start, end;    /* end == start: zero-sized, not yet extended */
	char *name;
	uint64_t sec_end;       /* end of the symbol's section, relocated: bounds the extension */
	/* ranking of aliases at one address, lower is better (see better_alias()) */
	uint8_t unsized, local, underscores, weak;
};

/* A half-open address range and the index it resolves to. */
struct range {
	uint64_t start, end;
	uint32_t slot;
};

struct elfsym {
	struct sym *syms;       /* sorted by start, one per address; the index is the slot */
	size_t nsyms;
	char **maps;            /* mapping names, "<basename>:text"; slot nsyms + i */
	uint32_t nmaps;
	struct range *seg;      /* executable segments as loaded, slot = index into maps */
	size_t nseg;
	/* what lookups search: non-overlapping, sorted */
	struct range *sym_ranges, *map_ranges;
	size_t nsym_ranges, nmap_ranges;
};

static int fail(char *err, size_t errlen, int rc, const char *path, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", path, why);
	return rc;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* ---- ordering ---- */

/* Among aliases, a sized symbol carries the real extent; a global (or weak) name is the one
 * the program's source uses, where locals are often compiler- or libc-internal (__GI_*);
 * fewer leading underscores picks "malloc" over "__libc_malloc"; then a strong definition
 * over a weak one; the name itself only makes the choice deterministic. */
static int alias_cmp(const struct sym *a, const struct sym *b)
{
	if (a->unsized != b->unsized)
		return a->unsized - b->unsized;
	if (a->local != b->local)
		return a->local - b->local;
	if (a->underscores != b->underscores)
		return a->underscores - b->underscores;
	if (a->weak != b->weak)
		return a->weak - b->weak;
	return strcmp(a->name, b->name);
}

static int sym_cmp(const void *pa, const void *pb)
{
	const struct sym *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return alias_cmp(a, b);
}

/* Sorted by start, then the longer first, so an enclosed range comes after its encloser. */
static int range_cmp(const void *pa, const void *pb)
{
	const struct range *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->end != b->end)
		return a->end > b->end ? -1 : 1;
	return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* Sort syms and keep the best alias at each address, freeing the others' names.  The kept
 * one spans as far as the longest alias did. */
static size_t sort_dedup(struct sym *syms, size_t n)
{
	size_t out = 0;

	if (!n)
		return 0;
	qsort(syms, n, sizeof(*syms), sym_cmp);
	for (size_t i = 1; i < n; i++) {
		struct sym *keep = &syms[out];

		if (syms[i].start == keep->start) {
			if (syms[i].end > keep->end)
				keep->end = syms[i].end;
			free(syms[i].name);
			continue;
		}
		syms[++out] = syms[i];
	}
	return out + 1;
}

/* Cut ranges that may nest or overlap (sorted by range_cmp) into disjoint ones: at every
 * address the range that starts last wins, because the inner symbol (a second entry point
 * inside a larger assembly routine) is the more precise name; the enclosing one resumes after
 * it.  out must hold 2n + 1 ranges, stack n: every input range is pushed once and each
 * step emits at most one range per pop plus one. */
static size_t partition(const struct range *in, size_t n, struct range *out, size_t *stack)
{
	size_t nout = 0, depth = 0;
	uint64_t cur = 0;

	for (size_t i = 0; i <= n; i++) {
		uint64_t next = i < n ? in[i].start : UINT64_MAX;

		while (depth) {
			const struct range *top = &in[stack[depth - 1]];
			uint64_t end = top->end < next ? top->end : next;

			if (end > cur) {
				/* one slot continuing (overlapping segments of one file)
				 * stays one piece */
				if (nout && out[nout - 1].slot == top->slot && out[nout - 1].end == cur)
					out[nout - 1].end = end;
				else
					out[nout++] = (struct range){ cur, end, top->slot };
				cur = end;
			}
			if (top->end > next)
				break;
			depth--;
		}
		if (i < n) {
			stack[depth++] = i;
			cur = in[i].start;
		}
	}
	return nout;
}

/* Scratch space to rebuild a lookup table from n input ranges, allocated before anything is
 * changed so that the rebuild itself cannot fail. */
struct rebuild_buf {
	struct range *in, *out;
	size_t *stack;
};

static int rebuild_buf_alloc(struct rebuild_buf *b, size_t n)
{
	b->in = malloc((n ? n : 1) * sizeof(*b->in));
	b->out = malloc((2 * n + 1) * sizeof(*b->out));
	b->stack = malloc((n ? n : 1) * sizeof(*b->stack));
	return b->in && b->out && b->stack ? 0 : -ENOMEM;
}

static void rebuild_buf_free(struct rebuild_buf *b)
{
	free(b->in);
	free(b->out);
	free(b->stack);
}

/* Partition b->in (n ranges) into a new table that replaces *table; b->out moves there. */
static void rebuild(struct rebuild_buf *b, size_t n, struct range **table, size_t *ntable)
{
	qsort(b->in, n, sizeof(*b->in), range_cmp);
	free(*table);
	*ntable = partition(b->in, n, b->out, b->stack);
	*table = b->out;
	b->out = NULL;
}

/* ---- reading one file ---- */

struct secinfo {
	uint64_t addr, size;
	bool alloc, exec;
};

/* What one file contributes, before it is merged. */
struct file_syms {
	struct sym *syms;
	size_t n, cap;
	struct range *seg;
	size_t nseg;
};

static void file_syms_free(struct file_syms *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->syms[i].name);
	free(f->syms);
	free(f->seg);
}

static uint8_t leading_underscores(const char *name)
{
	uint8_t n = 0;

	while (name[n] == '_' && n < UINT8_MAX)
		n++;
	return n;
}

static bool wanted(const GElf_Sym *sym, const struct secinfo *sec)
{
	unsigned type = GELF_ST_TYPE(sym->st_info);

	if (!sec->alloc)
		return false;
	if (type == STT_FUNC)
		return true;
	/* untyped labels and ifunc resolvers only when they say how long they are and sit in
	 * code: a sizeless NOTYPE label is as often a data marker (_etext, __bss_start) as a
	 * function */
	return (type == STT_NOTYPE || type == STT_GNU_IFUNC) && sym->st_size > 0 && sec->exec;
}

/* Read the function symbols of one symbol table into f.  Returns 0 or -ENOMEM. */
static int read_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, const struct secinfo *secs,
		       size_t nsecs, Elf_Data *xdata, uint64_t bias, struct file_syms *f)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	size_t n;

	if (!data || !entsize)
		return 0;
	n = data->d_size / entsize;
	/* entry 0 is the null symbol */
	for (size_t i = 1; i < n; i++) {
		GElf_Sym sym;
		Elf32_Word xndx = 0;
		size_t shndx;
		const char *name;
		struct sym *d;
		uint64_t start, end;

		if (!gelf_getsymshndx(data, xdata, (int)i, &sym, &xndx))
			continue;
		shndx = sym.st_shndx == SHN_XINDEX ? xndx : sym.st_shndx;
		/* undefined (imports), absolute and common symbols name no code of this file */
		if (shndx == SHN_UNDEF || (sym.st_shndx >= SHN_LORESERVE && sym.st_shndx != SHN_XINDEX) ||
		    shndx >= nsecs || !wanted(&sym, &secs[shndx]))
			continue;
		name = elf_strptr(elf, shdr->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		start = sym.st_value + bias;
		end = start + sym.st_size;
		if (end < start)
			end = UINT64_MAX;   /* a corrupt size: clamp rather than wrap */

		if (f->n == f->cap) {
			size_t cap = f->cap ? 2 * f->cap : 256;
			struct sym *p = realloc(f->syms, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			f->syms = p;
			f->cap = cap;
		}
		d = &f->syms[f->n];
		*d = (struct sym){
			.start = start,
			.end = end,
			.name = strdup(name),
			.sec_end = secs[shndx].addr + secs[shndx].size + bias,
			.unsized = sym.st_size == 0,
			.local = GELF_ST_BIND(sym.st_info) == STB_LOCAL,
			.underscores = leading_underscores(name),
			.weak = GELF_ST_BIND(sym.st_info) == STB_WEAK,
		};
		if (!d->name)
			return -ENOMEM;
		f->n++;
	}
	return 0;
}

/* Give each zero-sized symbol the room up to the next symbol, but not past its section.  The
 * symbols are sorted and unique by address, and a file's sections do not overlap, so the
 * next symbol in address order is the next one in the section, or lies beyond its end. */
static size_t extend_unsized(struct sym *syms, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		struct sym *y = &syms[i];

		if (y->end == y->start) {
			uint64_t end = i + 1 < n ? syms[i + 1].start : UINT64_MAX;

			y->end = end < y->sec_end ? end : y->sec_end;
			if (y->end <= y->start) {
				/* at (or past) its section's end: covers nothing */
				free(y->name);
				continue;
			}
		}
		syms[out++] = *y;
	}
	return out;
}

static int read_sections(Elf *elf, struct secinfo **secsp, size_t *nsecsp)
{
	size_t nsecs;
	struct secinfo *secs;
	Elf_Scn *scn = NULL;

	if (elf_getshdrnum(elf, &nsecs))
		return -EINVAL;
	secs = calloc(nsecs ? nsecs : 1, sizeof(*secs));
	if (!secs)
		return -ENOMEM;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		size_t i = elf_ndxscn(scn);

		if (i >= nsecs || !gelf_getshdr(scn, &shdr))
			continue;
		secs[i] = (struct secinfo){
			.addr = shdr.sh_addr,
			.size = shdr.sh_size,
			.alloc = shdr.sh_flags & SHF_ALLOC,
			.exec = shdr.sh_flags & SHF_EXECINSTR,
		};
	}
	*secsp = secs;
	*nsecsp = nsecs;
	return 0;
}

/* The extended-section-index table belonging to symbol table number symndx, if any. */
static Elf_Data *find_xndx(Elf *elf, size_t symndx)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;

		if (gelf_getshdr(scn, &shdr) && shdr.sh_type == SHT_SYMTAB_SHNDX && shdr.sh_link == symndx)
			return elf_getdata(scn, NULL);
	}
	return NULL;
}

/* Read the symbols of .symtab, or of .dynsym when .symtab is missing (stripped) or has no
 * functions: a stripped shared object still exports its API through .dynsym. */
static int read_symbols(Elf *elf, uint64_t bias, struct file_syms *f)
{
	static const uint32_t order[] = { SHT_SYMTAB, SHT_DYNSYM };
	struct secinfo *secs;
	size_t nsecs;
	int rc = read_sections(elf, &secs, &nsecs);

	if (rc)
		return rc;
	for (size_t k = 0; k < 2 && !f->n && !rc; k++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn)) && !rc) {
			GElf_Shdr shdr;

			if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != order[k])
				continue;
			rc = read_symtab(elf, scn, &shdr, secs, nsecs, find_xndx(elf, elf_ndxscn(scn)),
					 bias, f);
		}
	}
	free(secs);
	if (rc)
		return rc;
	f->n = sort_dedup(f->syms, f->n);
	f->n = extend_unsized(f->syms, f->n);
	return 0;
}

static int read_segments(Elf *elf, uint64_t bias, struct file_syms *f)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph) || !nph)
		return 0;
	f->seg = calloc(nph, sizeof(*f->seg));
	if (!f->seg)
		return -ENOMEM;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		uint64_t start, end;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) ||
		    !ph.p_memsz)
			continue;
		start = ph.p_vaddr + bias;
		end = start + ph.p_memsz;
		if (end < start)
			end = UINT64_MAX;
		f->seg[f->nseg++] = (struct range){ start, end, 0 };
	}
	return 0;
}

/* The load bias moves every address of the file: its highest one (the end of the last
 * PT_LOAD segment or allocated section) plus the bias must not wrap past 2^64, or the file's
 * addresses would alias the bottom of the address space. */
static int check_bias(Elf *elf, uint64_t bias, const char *path, char *err, size_t errlen)
{
	uint64_t top = 0;
	size_t nph;
	Elf_Scn *scn = NULL;
	char why[160];

	if (!elf_getphdrnum(elf, &nph)) {
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
				continue;
			if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
				return fail(err, errlen, -EINVAL, path, "a PT_LOAD segment ends beyond 2^64");
			if (ph.p_vaddr + ph.p_memsz > top)
				top = ph.p_vaddr + ph.p_memsz;
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) || sh.sh_addr + sh.sh_size < sh.sh_addr)
			continue;
		if (sh.sh_addr + sh.sh_size > top)
			top = sh.sh_addr + sh.sh_size;
	}
	if (bias > UINT64_MAX - top) {
		snprintf(why, sizeof(why), "load bias 0x%" PRIx64 " moves the file's end (0x%" PRIx64
			 ") beyond 2^64", bias, top);
		return fail(err, errlen, -EINVAL, path, why);
	}
	return 0;
}

/* Read everything the file contributes.  Returns 0 or a negative errno, with err set. */
static int read_file(const char *path, uint64_t bias, struct file_syms *f, char *err, size_t errlen)
{
	struct stat st;
	Elf *elf;
	GElf_Ehdr eh;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, path, strerror(errno));
	if (fstat(fd, &st)) {
		rc = -errno;
		close(fd);
		return fail(err, errlen, rc, path, strerror(-rc));
	}
	if (!S_ISREG(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		close(fd);
		return fail(err, errlen, rc, path, rc == -EISDIR ? strerror(EISDIR) : "not a regular file");
	}
	/* elf_version() only says which ELF version the caller speaks; every libelf user must
	 * call it before elf_begin(), and calling it again is harmless */
	if (elf_version(EV_CURRENT) == EV_NONE) {
		close(fd);
		return fail(err, errlen, -EINVAL, path, "libelf does not support this ELF version");
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		close(fd);
		return fail(err, errlen, -EINVAL, path, elf_errmsg(-1));
	}
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		rc = fail(err, errlen, -EINVAL, path, "not an ELF file");
		goto out;
	}
	/* a relocatable object's symbol values are offsets into unplaced sections */
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
		rc = fail(err, errlen, -EINVAL, path, "not an executable or shared object");
		goto out;
	}
	rc = check_bias(elf, bias, path, err, errlen);
	if (rc)
		goto out;
	rc = read_symbols(elf, bias, f);
	if (!rc)
		rc = read_segments(elf, bias, f);
	if (rc)
		fail(err, errlen, rc, path, strerror(-rc));
	else if (!f->n && !f->nseg)
		rc = fail(err, errlen, -EINVAL, path, "no function symbols and no executable segments");
out:
	elf_end(elf);
	close(fd);
	return rc;
}

/* ---- the set ---- */

struct elfsym *elfsym_new(void)
{
	return calloc(1, sizeof(struct elfsym));
}

void elfsym_free(struct elfsym *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nsyms; i++)
		free(s->syms[i].name);
	for (uint32_t i = 0; i < s->nmaps; i++)
		free(s->maps[i]);
	free(s->syms);
	free(s->maps);
	free(s->seg);
	free(s->sym_ranges);
	free(s->map_ranges);
	free(s);
}

/* Merge what one file contributes into s.  f's names move into s.  Everything that can fail
 * happens first: on error s is as it was. */
static int merge(struct elfsym *s, const char *path, struct file_syms *f)
{
	size_t nsyms = s->nsyms + f->n, nseg = s->nseg + f->nseg;
	struct rebuild_buf bs = { 0 }, bm = { 0 };
	char *mapname = NULL;
	int rc = -ENOMEM;

	/* slots are 32-bit, and UINT32_MAX is ELFSYM_UNKNOWN */
	if (nsyms + s->nmaps + 1 >= UINT32_MAX)
		return -EOVERFLOW;
	if (rebuild_buf_alloc(&bs, nsyms) || rebuild_buf_alloc(&bm, nseg))
		goto out;
	if (f->n) {
		struct sym *syms = realloc(s->syms, nsyms * sizeof(*syms));

		if (!syms)
			goto out;
		s->syms = syms;
	}
	if (f->nseg) {
		struct range *seg = realloc(s->seg, nseg * sizeof(*seg));
		char **maps = realloc(s->maps, (s->nmaps + 1) * sizeof(*maps));

		if (seg)
			s->seg = seg;
		if (maps)
			s->maps = maps;
		if (!seg || !maps || asprintf(&mapname, "%s:text", base_name(path)) < 0)
			goto out;
	}

	/* nothing fails from here on */
	if (f->n)
		memcpy(s->syms + s->nsyms, f->syms, f->n * sizeof(*f->syms));
	f->n = 0;
	/* two files defining one address (a wrong bias, or one file added twice) keep one name */
	s->nsyms = sort_dedup(s->syms, nsyms);
	for (size_t i = 0; i < f->nseg; i++) {
		f->seg[i].slot = s->nmaps;
		s->seg[s->nseg++] = f->seg[i];
	}
	if (mapname)
		s->maps[s->nmaps++] = mapname;

	for (size_t i = 0; i < s->nsyms; i++)
		bs.in[i] = (struct range){ s->syms[i].start, s->syms[i].end, (uint32_t)i };
	rebuild(&bs, s->nsyms, &s->sym_ranges, &s->nsym_ranges);
	if (s->nseg)
		memcpy(bm.in, s->seg, s->nseg * sizeof(*bm.in));
	rebuild(&bm, s->nseg, &s->map_ranges, &s->nmap_ranges);
	rc = 0;
out:
	rebuild_buf_free(&bs);
	rebuild_buf_free(&bm);
	return rc;
}

int elfsym_add(struct elfsym *s, const char *path, uint64_t load_bias, char *err, size_t errlen)
{
	struct file_syms f = { 0 };
	int rc;

	if (!s || !path)
		return fail(err, errlen, -EINVAL, path ? path : "(null)", "no symbol set or path");
	rc = read_file(path, load_bias, &f, err, errlen);
	if (!rc) {
		rc = merge(s, path, &f);
		if (rc)
			fail(err, errlen, rc, path, strerror(-rc));
	}
	file_syms_free(&f);
	return rc;
}

int elfsym_add_spec(struct elfsym *s, const char *spec, char *err, size_t errlen)
{
	const char *at;
	char *path;
	uint64_t bias = 0;
	int rc;

	if (!spec || !*spec)
		return fail(err, errlen, -EINVAL, "(empty)", "expected PATH or PATH@0xBIAS");
	/* the last '@' followed by a digit starts the bias; any other '@' is part of the path */
	at = strrchr(spec, '@');
	if (at && at[1] >= '0' && at[1] <= '9') {
		/* the project's one checked number parser: decimal or 0x hex, all of it */
		int r = parse_u64(at + 1, 0, 0, UINT64_MAX, &bias);

		if (r == -ERANGE)
			return fail(err, errlen, -EINVAL, spec, "load bias beyond 64 bits");
		if (r)
			return fail(err, errlen, -EINVAL, spec, "bad load bias, expected PATH@0xBIAS");
		if (at == spec)
			return fail(err, errlen, -EINVAL, spec, "no path before '@'");
		path = strndup(spec, (size_t)(at - spec));
	} else {
		path = strdup(spec);
	}
	if (!path)
		return fail(err, errlen, -ENOMEM, spec, strerror(ENOMEM));
	rc = elfsym_add(s, path, bias, err, errlen);
	free(path);
	return rc;
}

size_t elfsym_count(const struct elfsym *s)
{
	return s ? s->nsyms : 0;
}

bool elfsym_has_symbols(const struct elfsym *s)
{
	return elfsym_count(s) > 0;
}

uint32_t elfsym_slots(const struct elfsym *s)
{
	return s ? (uint32_t)(s->nsyms + s->nmaps) : 0;
}

/* The range containing addr in a sorted disjoint table, or NULL. */
static const struct range *search(const struct range *r, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	/* find the first range starting after addr; the one before it is the candidate */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < r[lo - 1].end)
		return &r[lo - 1];
	return NULL;
}

uint32_t elfsym_lookup(const struct elfsym *s, uint64_t addr)
{
	const struct range *r;

	if (!s)
		return ELFSYM_UNKNOWN;
	r = search(s->sym_ranges, s->nsym_ranges, addr);
	if (r)
		return r->slot;
	r = search(s->map_ranges, s->nmap_ranges, addr);
	if (r)
		return (uint32_t)s->nsyms + r->slot;
	return ELFSYM_UNKNOWN;
}

const char *elfsym_name(const struct elfsym *s, uint32_t idx)
{
	if (!s || idx == ELFSYM_UNKNOWN)
		return UNKNOWN_NAME;
	if (idx < s->nsyms)
		return s->syms[idx].name;
	if (idx - s->nsyms < s->nmaps)
		return s->maps[idx - s->nsyms];
	return UNKNOWN_NAME;
}

/* ---- attribution ---- */

struct attribution {
	const struct elfsym *s;
	uint32_t slots;                 /* slot `slots` is ELFSYM_UNKNOWN's */
	uint64_t (*c)[ATTR_NR];
};

struct attribution *attribution_new(const struct elfsym *s)
{
	struct attribution *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->s = s;
	a->slots = elfsym_slots(s);
	a->c = calloc((size_t)a->slots + 1, sizeof(*a->c));
	if (!a->c) {
		free(a);
		return NULL;
	}
	return a;
}

void attribution_free(struct attribution *a)
{
	if (!a)
		return;
	free(a->c);
	free(a);
}

void attribution_add(struct attribution *a, uint32_t idx, enum attr_counter c, uint64_t n)
{
	if (!a || (unsigned)c >= ATTR_NR)
		return;
	/* an index the table was not sized for can only be unknown to it */
	if (idx >= a->slots)
		idx = a->slots;
	a->c[idx][c] += n;
}

struct row {
	const uint64_t *c;
	const char *name;
	uint32_t slot;
};

static int row_cmp(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	int d;

	if (a->c[ATTR_WALK_REFS] != b->c[ATTR_WALK_REFS])
		return a->c[ATTR_WALK_REFS] > b->c[ATTR_WALK_REFS] ? -1 : 1;
	if (a->c[ATTR_TLB_MISSES] != b->c[ATTR_TLB_MISSES])
		return a->c[ATTR_TLB_MISSES] > b->c[ATTR_TLB_MISSES] ? -1 : 1;
	d = strcmp(a->name, b->name);
	if (d)
		return d;
	/* same name in two files: keep the output deterministic */
	return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* The slots with anything counted, in report order, at most limit (0: all).  NULL and *n = 0
 * when there are none or memory runs out. */
static struct row *sorted_rows(const struct attribution *a, size_t limit, size_t *n)
{
	struct row *rows = malloc(((size_t)a->slots + 1) * sizeof(*rows));
	size_t k = 0;

	*n = 0;
	if (!rows)
		return NULL;
	for (uint32_t i = 0; i <= a->slots; i++) {
		bool any = false;

		for (int c = 0; c < ATTR_NR; c++)
			any |= a->c[i][c] != 0;
		if (any)
			rows[k++] = (struct row){
				a->c[i], elfsym_name(a->s, i == a->slots ? ELFSYM_UNKNOWN : i), i
			};
	}
	qsort(rows, k, sizeof(*rows), row_cmp);
	*n = limit && limit < k ? limit : k;
	return rows;
}

static const char *const json_keys[ATTR_NR] = {
	[ATTR_RECORDS] = "records",
	[ATTR_TLB_MISSES] = "tlb_misses",
	[ATTR_WALK_REFS] = "walk_refs",
	[ATTR_EPT_FAULTS] = "ept_faults",
	[ATTR_LOCK_WAIT_CYCLES] = "lock_wait_cycles",
};

json_t *attribution_json(const struct attribution *a, size_t limit)
{
	json_t *arr = json_array();
	struct row *rows;
	size_t n;

	if (!arr || !a)
		return arr;
	rows = sorted_rows(a, limit, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "symbol", json_string(rows[i].name));
		for (int c = 0; c < ATTR_NR; c++)
			json_object_set_new(o, json_keys[c], json_integer((json_int_t)rows[i].c[c]));
		json_array_append_new(arr, o);
	}
	free(rows);
	return arr;
}

/* A name as a Markdown code span: backticks keep __x__ from turning bold; a '|' would still
 * end the table cell, so it is escaped. */
static void md_name(const char *name, FILE *out)
{
	fputc('`', out);
	for (const char *p = name; *p; p++) {
		if (*p == '|')
			fputc('\\', out);
		fputc(*p, out);
	}
	fputc('`', out);
}

void attribution_markdown(const struct attribution *a, size_t limit, FILE *out)
{
	struct row *rows;
	size_t n;

	fprintf(out, "| symbol | records | TLB misses | walk refs | EPT faults | mmu_lock wait cycles |\n"
		     "|---|---:|---:|---:|---:|---:|\n");
	if (!a)
		return;
	rows = sorted_rows(a, limit, &n);
	for (size_t i = 0; i < n; i++) {
		fputs("| ", out);
		md_name(rows[i].name, out);
		for (int c = 0; c < ATTR_NR; c++)
			fprintf(out, " | %" PRIu64, rows[i].c[c]);
		fputs(" |\n", out);
	}
	free(rows);
}
