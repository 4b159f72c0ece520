/* The kernel's share of `rebound parse`: open, read to the end and close each file of a
 * list (one path per line), in one process, nothing else. As rebound does, each file is
 * opened relative to its directory, kept open while the files that follow are in it.
 * bench/parse.sh and bench/parse_cold.sh build and time it beside rebound; it prints only
 * the total number of bytes read.
 *
 *   cc -O2 -o read_floor bench/read_floor.c && ./read_floor LIST
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[1 << 16];

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: read_floor LIST\n");
    return 2;
  }
  FILE *list = fopen(argv[1], "r");
  if (!list) {
    perror(argv[1]);
    return 1;
  }
  char line[4096], dir[4096] = "";
  int dirfd = -1;
  long long total = 0;
  while (fgets(line, sizeof line, list)) {
    line[strcspn(line, "\n")] = 0;
    char *slash = strrchr(line, '/');
    const char *name = line;
    const char *parent = ".";
    if (slash) {
      *slash = 0;
      parent = slash == line ? "/" : line;
      name = slash + 1;
    }
    if (dirfd < 0 || strcmp(dir, parent) != 0) {
      if (dirfd >= 0) close(dirfd);
      dirfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      snprintf(dir, sizeof dir, "%s", parent);
    }
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
    close(fd);
  }
  printf("%lld\n", total);
  return 0;
}
