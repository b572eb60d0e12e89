/* Terminal helpers (terminal.h). */
#include "vmhost/util/terminal.h"

#include <termios.h>
#include <unistd.h>

const char *vh_tty_line_end(int fd)
{
    struct termios t;

    if (!isatty(fd) || tcgetattr(fd, &t) < 0) {
        return "\n";
    }
    return (t.c_oflag & OPOST) && (t.c_oflag & ONLCR) ? "\n" : "\r\n";
}
