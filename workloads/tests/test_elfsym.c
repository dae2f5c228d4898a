/* Tests for workloads/elfsym: symbols of this very test binary (a PIE, loaded at a bias found
 * with dl_iterate_phdr), small hand-written ELF files that pin down the selection, alias,
 * nesting and zero-size rules, error paths, "PATH@0xBIAS" specs, a stripped copy that falls
 * back to the segment name, and the attribution table's order and JSON/Markdown shape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workloads/elfsym.h"
#include "sim/tests/test_util.h"

/* ---- fixture ------------------------------------------------------------------------ */

struct fx {
	char dir[64];
	char path[256];         /* scratch for fx_path() */
	char err[512];
	uint64_t bias;          /* where this executable is loaded */
	struct elfsym *s;
};

static int main_bias(struct dl_phdr_info *info, size_t size, void *data)
{
	/* the first object reported is the main program */
	*(uint64_t *)data = info->dlpi_addr;
	return 1;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/eptsim-test-elfsym-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	dl_iterate_phdr(main_bias, &f->bias);
	f->s = elfsym_new();
	if (!f->s)
		return -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	elfsym_free(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(f);
	return rc;
}

static const char *fx_path(struct fx *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f->path;
}

static const char *name_at(const struct elfsym *s, uint64_t addr)
{
	return elfsym_name(s, elfsym_lookup(s, addr));
}

/* ---- functions of this binary to look up ----------------------------------------------
 * noipa: no inlining, cloning (foo.constprop.0) or identical-code folding, so each keeps its
 * own symbol and address.  Clang has no noipa, and does none of those to a noinline function
 * without LTO. */
#ifdef __clang__
#define KEEP __attribute__((noinline))
#else
#define KEEP __attribute__((noipa))
#endif

static KEEP int alpha_fn(int x)
{
	return x * 3 + 1;
}

static KEEP int beta_fn(int x)
{
	return x ^ 0x5a5a;
}

static KEEP uint64_t return_address(void)
{
	return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

/* An address strictly inside this function: the return address of a call it makes (the
 * volatile keeps that call from becoming a tail call). */
static KEEP uint64_t probe_middle(void)
{
	volatile uint64_t r = return_address();

	return r;
}

#define FN_ADDR(fn) ((uint64_t)(uintptr_t)&(fn))

/* ---- this binary -------------------------------------------------------------------- */

static void test_self_symbols(void **state)
{
	struct fx *f = *state;
	uint64_t mid = probe_middle();
	uint32_t a, b;

	assert_int_equal(alpha_fn(1) + beta_fn(0), 4 + 0x5a5a);
	assert_int_equal(elfsym_add(f->s, "/proc/self/exe", f->bias, f->err, sizeof(f->err)), 0);
	assert_true(elfsym_has_symbols(f->s));
	assert_true(elfsym_count(f->s) > 10);
	assert_true(elfsym_slots(f->s) > elfsym_count(f->s));     /* plus the text mapping */

	a = elfsym_lookup(f->s, FN_ADDR(alpha_fn));
	b = elfsym_lookup(f->s, FN_ADDR(beta_fn));
	assert_int_not_equal(a, ELFSYM_UNKNOWN);
	assert_int_not_equal(a, b);
	assert_true(a < elfsym_count(f->s));
	assert_string_equal(elfsym_name(f->s, a), "alpha_fn");
	assert_string_equal(elfsym_name(f->s, b), "beta_fn");
	assert_string_equal(name_at(f->s, FN_ADDR(test_self_symbols)), "test_self_symbols");

	assert_true(mid > FN_ADDR(probe_middle));
	assert_string_equal(name_at(f->s, mid), "probe_middle");
	/* the byte before a function belongs to something else */
	assert_string_not_equal(name_at(f->s, FN_ADDR(alpha_fn) - 1), "alpha_fn");

	/* nothing is loaded at the bottom of the address space */
	assert_int_equal(elfsym_lookup(f->s, 0x10), ELFSYM_UNKNOWN);
	assert_string_equal(name_at(f->s, 0x10), "[unknown]");
	assert_string_equal(elfsym_name(f->s, ELFSYM_UNKNOWN), "[unknown]");
}

struct text_seg {
	uint64_t start, end;
};

static int main_text(struct dl_phdr_info *info, size_t size, void *data)
{
	struct text_seg *t = data;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			t->start = info->dlpi_addr + ph->p_vaddr;
			t->end = t->start + ph->p_memsz;
			break;
		}
	}
	return 1;
}

/* Every byte of the loaded text resolves to a symbol or to the text mapping, and the bytes
 * no symbol covers (the PLT, padding) resolve to the mapping. */
static void test_self_text_mapping(void **state)
{
	struct fx *f = *state;
	struct text_seg t = { 0 };
	uint32_t map = ELFSYM_UNKNOWN;
	size_t unsymbolized = 0;

	dl_iterate_phdr(main_text, &t);
	assert_true(t.end > t.start);
	assert_int_equal(elfsym_add(f->s, "/proc/self/exe", f->bias, f->err, sizeof(f->err)), 0);
	for (uint64_t a = t.start; a < t.end; a++) {
		uint32_t i = elfsym_lookup(f->s, a);

		assert_int_not_equal(i, ELFSYM_UNKNOWN);
		if (i >= elfsym_count(f->s)) {
			map = i;
			unsymbolized++;
		}
	}
	assert_true(unsymbolized > 0);
	assert_true(map < elfsym_slots(f->s));
	assert_string_equal(elfsym_name(f->s, map), "exe:text");
	assert_int_equal(elfsym_lookup(f->s, t.end), ELFSYM_UNKNOWN);
}

static void test_spec(void **state)
{
	struct fx *f = *state;
	struct elfsym *s2 = elfsym_new();
	char spec[300];

	assert_non_null(s2);
	/* the real bias: lookups of real addresses */
	snprintf(spec, sizeof(spec), "/proc/self/exe@0x%" PRIx64, f->bias);
	assert_int_equal(elfsym_add_spec(f->s, spec, f->err, sizeof(f->err)), 0);
	assert_string_equal(name_at(f->s, FN_ADDR(beta_fn)), "beta_fn");

	/* no bias: link-time addresses; bias 0x1000: those shifted by 0x1000 */
	assert_int_equal(elfsym_add_spec(s2, "/proc/self/exe", f->err, sizeof(f->err)), 0);
	assert_string_equal(name_at(s2, FN_ADDR(beta_fn) - f->bias), "beta_fn");
	elfsym_free(s2);
	s2 = elfsym_new();
	assert_int_equal(elfsym_add_spec(s2, "/proc/self/exe@0x1000", f->err, sizeof(f->err)), 0);
	assert_string_equal(name_at(s2, FN_ADDR(beta_fn) - f->bias + 0x1000), "beta_fn");
	assert_string_equal(name_at(s2, FN_ADDR(alpha_fn) - f->bias + 0x1000), "alpha_fn");
	assert_string_not_equal(name_at(s2, FN_ADDR(beta_fn) - f->bias), "beta_fn");
	elfsym_free(s2);
	s2 = elfsym_new();
	assert_int_equal(elfsym_add_spec(s2, "/proc/self/exe@4096", f->err, sizeof(f->err)), 0);
	assert_string_equal(name_at(s2, FN_ADDR(alpha_fn) - f->bias + 4096), "alpha_fn");
	elfsym_free(s2);

	/* malformed */
	s2 = elfsym_new();
	assert_int_equal(elfsym_add_spec(s2, "/proc/self/exe@0xzz", f->err, sizeof(f->err)), -EINVAL);
	tu_assert_contains(f->err, "bias");
	assert_int_equal(elfsym_add_spec(s2, "/proc/self/exe@0x", f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(elfsym_add_spec(s2, "/proc/self/exe@12k", f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(elfsym_add_spec(s2, "@0x1000", f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(elfsym_add_spec(s2, "", f->err, sizeof(f->err)), -EINVAL);
	/* a bias that moves the file's end past 2^64: its addresses would wrap to the bottom */
	assert_int_equal(elfsym_add_spec(s2, "/proc/self/exe@0xffffffffffffffff", f->err, sizeof(f->err)), -EINVAL);
	tu_assert_contains(f->err, "/proc/self/exe: load bias 0xffffffffffffffff moves the file's end");
	assert_int_equal(elfsym_add_spec(s2, "/proc/self/exe@0xfffffffffffff000", f->err, sizeof(f->err)), -EINVAL);
	tu_assert_contains(f->err, "beyond 2^64");
	/* beyond 64 bits, and signs or blanks the checked parser refuses */
	assert_int_equal(elfsym_add_spec(s2, "/proc/self/exe@0x10000000000000000", f->err, sizeof(f->err)), -EINVAL);
	tu_assert_contains(f->err, "load bias beyond 64 bits");
	assert_int_equal(elfsym_add_spec(s2, "/proc/self/exe@1 ", f->err, sizeof(f->err)), -EINVAL);
	assert_int_equal(elfsym_slots(s2), 0);
	/* an '@' not followed by a number is part of the path */
	assert_int_equal(elfsym_add_spec(s2, "/nonexistent/a@b", f->err, sizeof(f->err)), -ENOENT);
	tu_assert_contains(f->err, "/nonexistent/a@b");
	elfsym_free(s2);
}

static void test_errors(void **state)
{
	struct fx *f = *state;
	const char *p = fx_path(f, "notes.txt");
	FILE *fp = fopen(p, "w");

	assert_non_null(fp);
	fputs("this is not an ELF file\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(elfsym_add(f->s, p, 0, f->err, sizeof(f->err)), -EINVAL);
	tu_assert_contains(f->err, p);
	tu_assert_contains(f->err, "not an ELF");

	p = fx_path(f, "empty");
	fp = fopen(p, "w");
	assert_non_null(fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(elfsym_add(f->s, p, 0, f->err, sizeof(f->err)), -EINVAL);
	tu_assert_contains(f->err, p);

	p = fx_path(f, "missing");
	assert_int_equal(elfsym_add(f->s, p, 0, f->err, sizeof(f->err)), -ENOENT);
	tu_assert_contains(f->err, p);

	assert_int_equal(elfsym_add(f->s, f->dir, 0, f->err, sizeof(f->err)), -EISDIR);
	tu_assert_contains(f->err, f->dir);

	/* failures add nothing */
	assert_int_equal(elfsym_count(f->s), 0);
	assert_int_equal(elfsym_slots(f->s), 0);
	assert_int_equal(elfsym_lookup(f->s, FN_ADDR(alpha_fn)), ELFSYM_UNKNOWN);
}

/* ---- hand-written ELF files ---------------------------------------------------------- */

#define TEXT_ADDR 0x400100ULL
#define TEXT_SIZE 0x200ULL
#define DATA_ADDR 0x402000ULL
#define SEG_ADDR 0x400000ULL
#define SEG_SIZE 0x1000ULL

enum { SEC_TEXT = 1, SEC_DATA, SEC_SYMTAB, SEC_STRTAB, SEC_SHSTRTAB, NSEC };

struct tsym {
	const char *name;
	uint64_t value, size;
	unsigned char type, bind;
	uint16_t shndx;
};

struct telf {
	uint16_t type;          /* ET_EXEC, ET_DYN, ET_REL */
	bool segment;           /* an R+X PT_LOAD over SEG_ADDR..+SEG_SIZE */
	uint32_t symtab_type;   /* SHT_SYMTAB or SHT_DYNSYM */
	const struct tsym *syms;
	size_t n;
};

static void put(FILE *fp, const void *p, size_t n, long at)
{
	assert_int_equal(fseek(fp, at, SEEK_SET), 0);
	assert_int_equal(fwrite(p, 1, n, fp), n);
}

/* A minimal ELF64: a NOBITS .text and .data (addresses only, no bytes), a symbol table, and
 * optionally one executable segment. */
static void write_elf(const char *path, const struct telf *t)
{
	static const char shstr[] = "\0.text\0.data\0.symtab\0.strtab\0.shstrtab";
	char str[4096] = "";
	size_t strsz = 1, nsym = t->n + 1;
	Elf64_Sym *sym = calloc(nsym, sizeof(*sym));
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph = { 0 };
	Elf64_Shdr sh[NSEC];
	long symoff = sizeof(eh) + (t->segment ? sizeof(ph) : 0);
	long stroff, shstroff, shoff;
	FILE *fp;

	assert_non_null(sym);
	for (size_t i = 0; i < t->n; i++) {
		size_t len = strlen(t->syms[i].name) + 1;

		assert_true(strsz + len <= sizeof(str));
		memcpy(str + strsz, t->syms[i].name, len);
		sym[i + 1] = (Elf64_Sym){
			.st_name = (Elf64_Word)strsz,
			.st_info = ELF64_ST_INFO(t->syms[i].bind, t->syms[i].type),
			.st_shndx = t->syms[i].shndx,
			.st_value = t->syms[i].value,
			.st_size = t->syms[i].size,
		};
		strsz += len;
	}
	stroff = symoff + (long)(nsym * sizeof(*sym));
	shstroff = stroff + (long)strsz;
	shoff = (shstroff + (long)sizeof(shstr) + 7) & ~7L;

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = t->type;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = TEXT_ADDR;
	eh.e_phoff = t->segment ? sizeof(eh) : 0;
	eh.e_shoff = (Elf64_Off)shoff;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = t->segment;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = NSEC;
	eh.e_shstrndx = SEC_SHSTRTAB;

	ph = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_vaddr = SEG_ADDR,
			   .p_paddr = SEG_ADDR, .p_memsz = SEG_SIZE, .p_align = 0x1000 };

	memset(sh, 0, sizeof(sh));
	sh[SEC_TEXT] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_NOBITS,
				     .sh_flags = SHF_ALLOC | SHF_EXECINSTR, .sh_addr = TEXT_ADDR,
				     .sh_size = TEXT_SIZE, .sh_addralign = 16 };
	sh[SEC_DATA] = (Elf64_Shdr){ .sh_name = 7, .sh_type = SHT_NOBITS,
				     .sh_flags = SHF_ALLOC | SHF_WRITE, .sh_addr = DATA_ADDR,
				     .sh_size = 0x100, .sh_addralign = 16 };
	sh[SEC_SYMTAB] = (Elf64_Shdr){ .sh_name = 13, .sh_type = t->symtab_type,
				       .sh_offset = (Elf64_Off)symoff, .sh_size = nsym * sizeof(*sym),
				       .sh_link = SEC_STRTAB, .sh_info = 1, .sh_addralign = 8,
				       .sh_entsize = sizeof(*sym) };
	sh[SEC_STRTAB] = (Elf64_Shdr){ .sh_name = 21, .sh_type = SHT_STRTAB,
				       .sh_offset = (Elf64_Off)stroff, .sh_size = strsz, .sh_addralign = 1 };
	sh[SEC_SHSTRTAB] = (Elf64_Shdr){ .sh_name = 29, .sh_type = SHT_STRTAB,
					 .sh_offset = (Elf64_Off)shstroff, .sh_size = sizeof(shstr),
					 .sh_addralign = 1 };

	fp = fopen(path, "wb");
	assert_non_null(fp);
	put(fp, &eh, sizeof(eh), 0);
	if (t->segment)
		put(fp, &ph, sizeof(ph), sizeof(eh));
	put(fp, sym, nsym * sizeof(*sym), symoff);
	put(fp, str, strsz, stroff);
	put(fp, shstr, sizeof(shstr), shstroff);
	put(fp, sh, sizeof(sh), shoff);
	assert_int_equal(fclose(fp), 0);
	free(sym);
}

/* .text is 0x400100..0x400300 */
static const struct tsym synth_syms[] = {
	/* nested: inner takes 0x120..0x130 out of outer, which resumes after it */
	{ "outer", 0x400100, 0x80, STT_FUNC, STB_GLOBAL, SEC_TEXT },
	{ "inner", 0x400120, 0x10, STT_FUNC, STB_LOCAL, SEC_TEXT },
	/* aliases: a visible name without underscores wins */
	{ "__impl", 0x400180, 0x20, STT_FUNC, STB_GLOBAL, SEC_TEXT },
	{ "impl_local", 0x400180, 0x20, STT_FUNC, STB_LOCAL, SEC_TEXT },
	{ "impl", 0x400180, 0x20, STT_FUNC, STB_WEAK, SEC_TEXT },
	{ "_impl", 0x400180, 0, STT_FUNC, STB_GLOBAL, SEC_TEXT },
	/* aliases: the strong definition over a weak one, over a local */
	{ "also", 0x4001a0, 0x20, STT_FUNC, STB_WEAK, SEC_TEXT },
	{ "strong", 0x4001a0, 0x20, STT_FUNC, STB_GLOBAL, SEC_TEXT },
	{ "aaa", 0x4001a0, 0x20, STT_FUNC, STB_LOCAL, SEC_TEXT },
	/* 0x4001c0..0x400200: no symbol */
	/* assembly without .size: up to the next symbol kept (not the NOTYPE label) */
	{ "asm_entry", 0x400200, 0, STT_FUNC, STB_GLOBAL, SEC_TEXT },
	{ "label0", 0x400220, 0, STT_NOTYPE, STB_GLOBAL, SEC_TEXT },
	{ "asm_next", 0x400240, 0x10, STT_NOTYPE, STB_GLOBAL, SEC_TEXT },
	/* 0x400250..0x400260: no symbol */
	{ "resolver", 0x400260, 0x10, STT_GNU_IFUNC, STB_GLOBAL, SEC_TEXT },
	/* the last one, sizeless: up to the end of .text */
	{ "tail", 0x4002f0, 0, STT_FUNC, STB_LOCAL, SEC_TEXT },
	/* none of these is a function of this file */
	{ "object", 0x400270, 0x10, STT_OBJECT, STB_GLOBAL, SEC_TEXT },
	{ "imported", 0, 0, STT_FUNC, STB_GLOBAL, SHN_UNDEF },
	{ "absolute", 0x400290, 0x10, STT_FUNC, STB_GLOBAL, SHN_ABS },
	{ "data_label", DATA_ADDR, 8, STT_NOTYPE, STB_GLOBAL, SEC_DATA },
	{ "data_obj", DATA_ADDR + 8, 8, STT_OBJECT, STB_GLOBAL, SEC_DATA },
	{ "", 0x4002a0, 0x10, STT_FUNC, STB_LOCAL, SEC_TEXT },
	/* one more alias of strong: a sized name over a sizeless one */
	{ "a0", 0x4001a0, 0, STT_FUNC, STB_GLOBAL, SEC_TEXT },
};
#define SYNTH_NSYMS 8   /* outer inner impl strong asm_entry asm_next resolver tail */

static const char *write_synth(struct fx *f, const char *name, uint32_t symtab_type)
{
	struct telf t = { ET_EXEC, true, symtab_type, synth_syms, sizeof(synth_syms) / sizeof(synth_syms[0]) };
	const char *p = fx_path(f, name);

	write_elf(p, &t);
	return p;
}

static void check_synth(const struct elfsym *s, uint64_t bias, const char *mapname)
{
	static const struct {
		uint64_t addr;
		const char *name;
	} want[] = {
		{ 0x400000, NULL },     /* in the segment, before .text */
		{ 0x4000ff, NULL },
		{ 0x400100, "outer" },
		{ 0x40011f, "outer" },
		{ 0x400120, "inner" },
		{ 0x40012f, "inner" },
		{ 0x400130, "outer" },
		{ 0x40017f, "outer" },
		{ 0x400180, "impl" },
		{ 0x40019f, "impl" },
		{ 0x4001a0, "strong" },
		{ 0x4001bf, "strong" },
		{ 0x4001c0, NULL },
		{ 0x4001ff, NULL },
		{ 0x400200, "asm_entry" },
		{ 0x400230, "asm_entry" },
		{ 0x40023f, "asm_entry" },
		{ 0x400240, "asm_next" },
		{ 0x40024f, "asm_next" },
		{ 0x400250, NULL },
		{ 0x400260, "resolver" },
		{ 0x400270, NULL },     /* an OBJECT */
		{ 0x400290, NULL },     /* SHN_ABS */
		{ 0x4002a0, NULL },     /* nameless */
		{ 0x4002f0, "tail" },
		{ 0x4002ff, "tail" },
		{ 0x400300, NULL },
		{ 0x400fff, NULL },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *got = name_at(s, want[i].addr + bias);
		const char *exp = want[i].name ? want[i].name : mapname;

		if (strcmp(got, exp))
			fail_msg("0x%" PRIx64 " (+0x%" PRIx64 "): \"%s\", expected \"%s\"", want[i].addr, bias,
				 got, exp);
	}
	/* outside the segment: nothing */
	assert_int_equal(elfsym_lookup(s, SEG_ADDR + bias - 1), ELFSYM_UNKNOWN);
	assert_int_equal(elfsym_lookup(s, SEG_ADDR + SEG_SIZE + bias), ELFSYM_UNKNOWN);
	assert_int_equal(elfsym_lookup(s, DATA_ADDR + bias), ELFSYM_UNKNOWN);
}

static void test_synthetic_rules(void **state)
{
	struct fx *f = *state;
	static const uint64_t starts[SYNTH_NSYMS] = {
		0x400100, 0x400120, 0x400180, 0x4001a0, 0x400200, 0x400240, 0x400260, 0x4002f0,
	};
	const char *p = write_synth(f, "synth.elf", SHT_SYMTAB);

	assert_int_equal(elfsym_add(f->s, p, 0, f->err, sizeof(f->err)), 0);
	assert_int_equal(elfsym_count(f->s), SYNTH_NSYMS);
	assert_int_equal(elfsym_slots(f->s), SYNTH_NSYMS + 1);
	check_synth(f->s, 0, "synth.elf:text");
	/* symbols are numbered in address order, the mapping after them */
	for (uint32_t i = 0; i < SYNTH_NSYMS; i++)
		assert_int_equal(elfsym_lookup(f->s, starts[i]), i);
	assert_int_equal(elfsym_lookup(f->s, 0x400000), SYNTH_NSYMS);
	assert_string_equal(elfsym_name(f->s, SYNTH_NSYMS), "synth.elf:text");
	assert_string_equal(elfsym_name(f->s, SYNTH_NSYMS + 1), "[unknown]");
}

static void test_synthetic_dynsym_and_bias(void **state)
{
	struct fx *f = *state;

	/* only a .dynsym, as in a stripped shared object */
	assert_int_equal(elfsym_add(f->s, write_synth(f, "libdyn.so", SHT_DYNSYM), 0x7f0000000000ULL,
				    f->err, sizeof(f->err)), 0);
	assert_int_equal(elfsym_count(f->s), SYNTH_NSYMS);
	check_synth(f->s, 0x7f0000000000ULL, "libdyn.so:text");
	assert_int_equal(elfsym_lookup(f->s, 0x400100), ELFSYM_UNKNOWN);

	/* a second object: both resolve, each with its own mapping slot */
	assert_int_equal(elfsym_add(f->s, write_synth(f, "libsym.so", SHT_SYMTAB), 0x10000,
				    f->err, sizeof(f->err)), 0);
	assert_int_equal(elfsym_count(f->s), 2 * SYNTH_NSYMS);
	assert_int_equal(elfsym_slots(f->s), 2 * SYNTH_NSYMS + 2);
	check_synth(f->s, 0x10000, "libsym.so:text");
	check_synth(f->s, 0x7f0000000000ULL, "libdyn.so:text");
	assert_int_not_equal(elfsym_lookup(f->s, 0x400100 + 0x10000),
			     elfsym_lookup(f->s, 0x400100 + 0x7f0000000000ULL));
}

static void test_synthetic_errors(void **state)
{
	struct fx *f = *state;
	const char *p;
	struct telf rel = { ET_REL, false, SHT_SYMTAB, synth_syms, 3 };
	struct telf nothing = { ET_EXEC, false, SHT_SYMTAB, synth_syms + 14, 3 };   /* no functions */
	struct telf seg_only = { ET_EXEC, true, SHT_SYMTAB, synth_syms + 14, 3 };

	p = fx_path(f, "obj.o");
	write_elf(p, &rel);
	assert_int_equal(elfsym_add(f->s, p, 0, f->err, sizeof(f->err)), -EINVAL);
	tu_assert_contains(f->err, p);

	p = fx_path(f, "nothing");
	write_elf(p, &nothing);
	assert_int_equal(elfsym_add(f->s, p, 0, f->err, sizeof(f->err)), -EINVAL);
	tu_assert_contains(f->err, p);
	tu_assert_contains(f->err, "no function symbols");
	assert_int_equal(elfsym_slots(f->s), 0);

	/* no functions but a segment: the segment alone is worth having */
	p = fx_path(f, "seg-only");
	write_elf(p, &seg_only);
	assert_int_equal(elfsym_add(f->s, p, 0, f->err, sizeof(f->err)), 0);
	assert_false(elfsym_has_symbols(f->s));
	assert_int_equal(elfsym_slots(f->s), 1);
	assert_string_equal(name_at(f->s, 0x400100), "seg-only:text");
}

/* ---- a shared object this process has loaded ------------------------------------------ */

struct find_obj {
	uint64_t addr;
	char path[256];
	uint64_t bias;
};

static int find_obj(struct dl_phdr_info *info, size_t size, void *data)
{
	struct find_obj *o = data;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && o->addr >= start && o->addr < start + ph->p_memsz) {
			snprintf(o->path, sizeof(o->path), "%s", info->dlpi_name);
			o->bias = info->dlpi_addr;
			return 1;
		}
	}
	return 0;
}

/* libelf.so, at the address the dynamic linker put it: a real shared object, and a stripped
 * one on most distributions, so its exports come from .dynsym. */
static void test_shared_object(void **state)
{
	struct fx *f = *state;
	struct find_obj o = { .addr = FN_ADDR(elf_begin) };
	const char *slash;
	char mapname[300];

	assert_int_equal(dl_iterate_phdr(find_obj, &o), 1);
	assert_true(o.path[0] == '/');
	assert_int_equal(elfsym_add(f->s, o.path, o.bias, f->err, sizeof(f->err)), 0);
	assert_true(elfsym_has_symbols(f->s));
	assert_string_equal(name_at(f->s, FN_ADDR(elf_begin)), "elf_begin");
	assert_string_equal(name_at(f->s, FN_ADDR(elf_end)), "elf_end");
	assert_string_equal(name_at(f->s, FN_ADDR(gelf_getsym)), "gelf_getsym");

	/* this executable too: both resolve */
	assert_int_equal(elfsym_add(f->s, "/proc/self/exe", f->bias, f->err, sizeof(f->err)), 0);
	assert_string_equal(name_at(f->s, FN_ADDR(alpha_fn)), "alpha_fn");
	assert_string_equal(name_at(f->s, FN_ADDR(elf_begin)), "elf_begin");
	slash = strrchr(o.path, '/');
	snprintf(mapname, sizeof(mapname), "%s:text", slash + 1);
	assert_string_equal(elfsym_name(f->s, elfsym_slots(f->s) - 2), mapname);
	assert_string_equal(elfsym_name(f->s, elfsym_slots(f->s) - 1), "exe:text");
}

/* ---- a stripped copy of this binary ---------------------------------------------------- */

static void test_stripped(void **state)
{
	struct fx *f = *state;
	char self[256], path[256], cmd[800];
	ssize_t n;

	if (system("command -v objcopy >/dev/null 2>&1") != 0)
		skip();
	/* resolved here: in the shell, /proc/self would be cp */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	snprintf(path, sizeof(path), "%s/test-stripped", f->dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && objcopy --strip-all '%s'", self, path, path);
	assert_int_equal(system(cmd), 0);

	assert_int_equal(elfsym_add(f->s, path, f->bias, f->err, sizeof(f->err)), 0);
	/* .dynsym of an executable holds imports only */
	assert_false(elfsym_has_symbols(f->s));
	assert_int_equal(elfsym_count(f->s), 0);
	assert_int_equal(elfsym_slots(f->s), 1);
	assert_string_equal(name_at(f->s, FN_ADDR(alpha_fn)), "test-stripped:text");
	assert_string_equal(name_at(f->s, probe_middle()), "test-stripped:text");
	assert_string_equal(name_at(f->s, 0x10), "[unknown]");
}

/* ---- attribution --------------------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	assert_non_null(s);
	return s;
}

static long long jint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void test_attribution(void **state)
{
	struct fx *f = *state;
	struct attribution *a;
	uint32_t outer, inner, impl, map;
	json_t *j, *o;
	char *md = NULL;
	size_t mdlen = 0;
	FILE *mf;

	assert_int_equal(elfsym_add(f->s, write_synth(f, "synth.elf", SHT_SYMTAB), 0, f->err,
				    sizeof(f->err)), 0);
	outer = elfsym_lookup(f->s, 0x400100);
	inner = elfsym_lookup(f->s, 0x400120);
	impl = elfsym_lookup(f->s, 0x400180);
	map = elfsym_lookup(f->s, 0x400000);
	a = attribution_new(f->s);
	assert_non_null(a);

	/* impl: most walk refs; outer and inner tie on walk refs, outer has more TLB misses (so
	 * it comes first though "inner" sorts before it by name);
	 * the mapping and [unknown] tie on everything sorted on, so by name ('[' < 's') */
	attribution_add(a, impl, ATTR_WALK_REFS, 100);
	attribution_add(a, impl, ATTR_RECORDS, 7);
	attribution_add(a, outer, ATTR_WALK_REFS, 40);
	attribution_add(a, outer, ATTR_TLB_MISSES, 5);
	attribution_add(a, inner, ATTR_WALK_REFS, 30);
	attribution_add(a, inner, ATTR_WALK_REFS, 10);
	attribution_add(a, inner, ATTR_TLB_MISSES, 2);
	attribution_add(a, inner, ATTR_EPT_FAULTS, 3);
	attribution_add(a, inner, ATTR_LOCK_WAIT_CYCLES, 1234);
	attribution_add(a, map, ATTR_RECORDS, 9);
	attribution_add(a, ELFSYM_UNKNOWN, ATTR_RECORDS, 4);
	attribution_add(a, elfsym_slots(f->s) + 5, ATTR_RECORDS, 1);   /* out of range: unknown */
	attribution_add(a, elfsym_lookup(f->s, 0x4001a0), ATTR_RECORDS, 0);   /* still all zero */

	j = attribution_json(a, 0);
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 5);
	assert_string_equal(jstr(json_array_get(j, 0), "symbol"), "impl");
	assert_string_equal(jstr(json_array_get(j, 1), "symbol"), "outer");
	assert_string_equal(jstr(json_array_get(j, 2), "symbol"), "inner");
	assert_string_equal(jstr(json_array_get(j, 3), "symbol"), "[unknown]");
	assert_string_equal(jstr(json_array_get(j, 4), "symbol"), "synth.elf:text");
	o = json_array_get(j, 2);
	assert_int_equal(json_object_size(o), 6);
	assert_int_equal(jint(o, "records"), 0);
	assert_int_equal(jint(o, "tlb_misses"), 2);
	assert_int_equal(jint(o, "walk_refs"), 40);
	assert_int_equal(jint(o, "ept_faults"), 3);
	assert_int_equal(jint(o, "lock_wait_cycles"), 1234);
	assert_int_equal(jint(json_array_get(j, 0), "records"), 7);
	assert_int_equal(jint(json_array_get(j, 3), "records"), 5);
	assert_int_equal(jint(json_array_get(j, 4), "records"), 9);
	json_decref(j);

	j = attribution_json(a, 2);
	assert_int_equal(json_array_size(j), 2);
	assert_string_equal(jstr(json_array_get(j, 1), "symbol"), "outer");
	json_decref(j);

	mf = open_memstream(&md, &mdlen);
	assert_non_null(mf);
	attribution_markdown(a, 3, mf);
	assert_int_equal(fclose(mf), 0);
	tu_assert_contains(md, "| symbol | records | TLB misses | walk refs | EPT faults | mmu_lock wait cycles |\n"
			    "|---|---:|---:|---:|---:|---:|\n"
			    "| `impl` | 7 | 0 | 100 | 0 | 0 |\n"
			    "| `outer` | 0 | 5 | 40 | 0 | 0 |\n"
			    "| `inner` | 0 | 2 | 40 | 3 | 1234 |\n");
	assert_null(strstr(md, "unknown"));     /* cut by the limit */
	free(md);
	attribution_free(a);

	/* nothing counted: an empty array */
	a = attribution_new(f->s);
	j = attribution_json(a, 0);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	attribution_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_self_symbols, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_self_text_mapping, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_spec, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_errors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_synthetic_rules, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_synthetic_dynsym_and_bias, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_synthetic_errors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_shared_object, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stripped, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_attribution, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
