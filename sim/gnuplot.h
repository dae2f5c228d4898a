/* sim/gnuplot — the plumbing every figure shares (`eptsim plot`, `eptsim report`): a
 * private temporary directory for the data files and the script, one gnuplot run there,
 * and the image copied to its destination whole or not at all.
 *
 * A figure is made in four steps:
 *
 *   gp_check_args()   the destination ends in .png (pngcairo) or .svg (svg terminal);
 *   gp_mktmp()        $TMPDIR (or /tmp)/eptsim-plot-XXXXXX, and the image path in it;
 *   gp_create()...    data files and plot.gp in it (gp_terminal() writes the script's head);
 *   gp_finish()       gnuplot runs in that directory (so a script may name its data files
 *                     relatively), the image is copied to out through a temporary name and
 *                     rename(), and the directory is removed, whatever happened.
 *
 * Errors are one line in err (gp_err(), which sim/summary and sim/report use too, folds
 * newlines), with a negative errno: a missing
 * gnuplot is -ENOENT "gnuplot not found: install gnuplot-nox (make deps)", a failed script
 * is -EIO with gnuplot's last message.
 */
#ifndef EPTSIM_SIM_GNUPLOT_H
#define EPTSIM_SIM_GNUPLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Okabe-Ito: tells lines apart for colour-blind readers too. */
#define GP_NCOLOR 8
extern const char *const gp_color[GP_NCOLOR];

void gp_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Basename of path, trailing slashes ignored ("results/a/" -> "a"). */
void gp_basename(const char *path, char *buf, size_t len);
/* Replace quotes, backslashes and control characters (they would break a gnuplot string). */
void gp_sanitize(char *s);
bool gp_has_suffix(const char *s, const char *suffix);   /* case-insensitive */
/* A tic step of 1, 2 or 5 times a power of ten giving at most about nticks tics. */
double gp_nice_step(double range, int nticks);

/* The script's head: encoding, a PNG (pngcairo) or SVG terminal of w x h, the output. */
void gp_terminal(FILE *f, const char *kind, bool png, int w, int h, const char *img);
/* Open tmp/name for writing (its path into path[len]); NULL with *ret and err set. */
FILE *gp_create(const char *tmp, const char *name, char *path, size_t len,
		char *err, size_t errlen, int *ret);
/* Close f, reporting any write error on path.  0 or -EIO. */
int gp_close(FILE *f, const char *path, char *err, size_t errlen);
/* Copy src to dst through "dst.tmp.PID" and rename(), so dst is whole or untouched. */
int gp_install(const char *src, const char *dst, char *err, size_t errlen);

/* dirs[0..ndirs) non-NULL and at least one, out ending in .png or .svg (*png says which). */
int gp_check_args(const char *const *dirs, int ndirs, const char *out, bool *png,
		  char *err, size_t errlen);
int gp_mktmp(char *tmp, size_t len, char *img, size_t imglen, bool png,
	     char *err, size_t errlen);
/* Unless ret is already an error: with keep, copy the script and data files (*.gp, *.dat)
 * into the folder keep (created); run tmp/plot.gp; copy img to out.  Removes tmp either
 * way.  Returns ret or the first error. */
int gp_finish(const char *tmp, const char *img, const char *out, const char *keep, int ret,
	      char *err, size_t errlen);

#endif /* EPTSIM_SIM_GNUPLOT_H */
