/*
 * Private to lib/monitor: the line editor in front of HMP. A byte-fed
 * state machine with no I/O of its own: what the peer types goes in with
 * vh_readline_feed(), finished lines come out through a callback, and the
 * bytes a terminal needs to show the edit (echo, cursor moves, redraws)
 * through another.
 *
 *     VhReadline *rl = vh_readline_new("(vmhost) ", true, 4096, out, line,
 *                                      complete, opaque);
 *     vh_readline_show_prompt(rl);
 *     vh_readline_feed(rl, buf, len);   // calls line() per finished line
 *     vh_readline_free(rl);
 *
 * Keys (QEMU's monitor and GNU readline as the reference):
 *   printable          insert at the cursor (UTF-8 sequences as one unit)
 *   Left / Right       ESC [ D / ESC [ C, ESC O D / ESC O C, Ctrl-B / Ctrl-F
 *   word left / right  ESC b / ESC f, ESC [ 1 ; 5 D / ESC [ 1 ; 5 C
 *   Home               ESC [ H, ESC [ 1 ~, ESC [ 7 ~, ESC O H, Ctrl-A
 *   End                ESC [ F, ESC [ 4 ~, ESC [ 8 ~, ESC O F, Ctrl-E
 *   Backspace          DEL (0x7f) and Ctrl-H: the character before the cursor
 *   Delete             ESC [ 3 ~ and Ctrl-D: the character at the cursor
 *   Ctrl-K / Ctrl-U    delete from the cursor to the end / start
 *   Ctrl-W             delete the word before the cursor (blank-separated)
 *   Ctrl-L             clear the screen, redraw prompt and line
 *   Ctrl-C             discard the line ("^C", a new prompt on a terminal)
 *   Up / Down          ESC [ A / ESC [ B (ESC O A/B, Ctrl-P / Ctrl-N):
 *                      walk the history; Down past the newest entry brings
 *                      back the line that was being typed
 *   Tab                completion (terminal only, see below)
 *   CR, LF, CR LF      end the line (the LF of a CR LF is swallowed)
 * Every other escape sequence (CSI with any parameters, SS3, ESC + one
 * byte) is swallowed whole; other control bytes are ignored. Bytes that
 * are not valid UTF-8 (a stray continuation byte, an overlong or
 * surrogate form, a truncated sequence) are dropped, so the line is
 * always valid UTF-8 and cursor moves never split a character. So are
 * C1 controls and zero-width characters (combining marks: a terminal
 * draws them onto the character before, which a redraw from the cursor
 * could not erase; terminals send precomposed characters anyway). Each
 * character counts as one column, or two when it is wide (East Asian
 * wide/fullwidth); lines longer than the terminal's width are not
 * wrapped specially. Candidates from @complete with such characters are
 * ignored.
 *
 * History: at most VH_READLINE_HISTORY_MAX lines, oldest dropped first;
 * blank lines and a repeat of the newest entry are not added. A line is
 * added with blanks at both ends stripped.
 *
 * @echo (a terminal) makes the editor write what a terminal needs:
 * the typed text, minimal cursor movement (BS or ESC [ n D / C), ESC [ K
 * to erase, and CR LF at the end of a line. Without @echo (a program at
 * the other end) the same keys edit the line but nothing is written
 * except the prompt, and Tab is ignored.
 *
 * Completion: @complete gets the line up to the cursor and the word
 * being completed (the text after the last blank before the cursor) and
 * returns the candidates for that word, each a whole word starting with
 * it (transfer full, NULL or empty for none). None: nothing happens. One:
 * the rest of it and a blank are inserted (no blank after one ending in
 * ',' or '=': more follows). Several: their common prefix
 * is inserted, then they are listed in columns on the next lines (sorted,
 * duplicates once, up to 80 columns wide) and the prompt and line are
 * drawn again with the cursor where it was.
 *
 * Lines are cut at @max_len bytes (more input is dropped until the end of
 * the line).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

#define VH_READLINE_HISTORY_MAX 64

typedef struct VhReadline VhReadline;

/* Bytes for the peer (echo, redraws, the prompt). */
typedef void (*VhReadlineOutFunc)(void *opaque, const char *buf, size_t len);
/* A finished line (borrowed, not stripped; may be empty). */
typedef void (*VhReadlineLineFunc)(void *opaque, const char *line);
/* Candidates for @word (see above); NULL for none. */
typedef GStrv (*VhReadlineCompleteFunc)(void *opaque, const char *before,
                                        const char *word);

/* (transfer full) @prompt is copied; @complete may be NULL. */
VhReadline *vh_readline_new(const char *prompt, bool echo, size_t max_len,
                            VhReadlineOutFunc out, VhReadlineLineFunc line,
                            VhReadlineCompleteFunc complete, void *opaque);
void vh_readline_free(VhReadline *rl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhReadline, vh_readline_free)

/*
 * Feed input. @line may be called several times, and from it the caller
 * may print output and call vh_readline_show_prompt(), but not free the
 * editor.
 */
void vh_readline_feed(VhReadline *rl, const guint8 *buf, size_t len);
/* Write the prompt and the line being edited, cursor in place. */
void vh_readline_show_prompt(VhReadline *rl);
/* Forget the line being edited and any half-read sequence (new peer). */
void vh_readline_reset(VhReadline *rl);

/* For tests: the line being edited (borrowed) and the cursor's byte
 * offset in it; the history, oldest first (borrowed). */
const char *vh_readline_get_line(VhReadline *rl);
size_t vh_readline_get_cursor(VhReadline *rl);
const GPtrArray *vh_readline_get_history(VhReadline *rl);

G_END_DECLS
