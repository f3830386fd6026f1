/*
 * The fair Linux peer of `npm run bench:web` (issue 16): an HTTP/1.1 server with keep-alive on one
 * epoll loop, behaving like guest-src/apps/httpd.ts: GET or HEAD of / or /index.html answers 200 with
 * the page (the file named on the command line, read once), any other path 404, other methods 405;
 * HTTP/1.1 keeps the connection unless `Connection: close`, HTTP/1.0 closes unless
 * `Connection: keep-alive`; pipelined requests are answered in order; a request head over 4,096 bytes
 * answers 431 and closes. Built by tools/linux-peer.ts with `gcc -m32 -O2 -static` into the peer's
 * initramfs and started by its /init beside busybox httpd.
 *
 * Usage: httpd-epoll PORT FILE
 */
#define _GNU_SOURCE   /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_LIMIT 4096
#define OUT_LIMIT 65536
#define EVENTS 256

struct connection {
  char in[HEAD_LIMIT];
  int inLength;
  char *out;           /* what the socket did not take yet */
  int outLength, outSent, closing;
};

static char *page;
static int pageLength;
static struct connection **connections;   /* by file descriptor */
static int connectionLimit;
static int epollFd;

static const char notFound[] = "<html><body><h1>404 Not Found</h1></body></html>\n";
static const char notAllowed[] = "<html><body><h1>405 Method Not Allowed</h1></body></html>\n";
static const char tooLarge[] = "<html><body><h1>431 Request Header Fields Too Large</h1></body></html>\n";
static const char badRequest[] = "<html><body><h1>400 Bad Request</h1></body></html>\n";

static void closeConnection(int fd) {
  struct connection *c = connections[fd];
  if (c) { free(c->out); free(c); connections[fd] = NULL; }
  close(fd);
}

/* Appends to the connection's pending output (the socket took only part of an earlier answer). */
static int queue(struct connection *c, const char *bytes, int length) {
  if (c->outLength + length > OUT_LIMIT) return -1;
  if (!c->out) c->out = malloc(OUT_LIMIT);
  if (!c->out) return -1;
  memcpy(c->out + c->outLength, bytes, length);
  c->outLength += length;
  return 0;
}

/* Writes what is pending; 0 when all of it went, 1 when the socket is full, -1 on an error. */
static int flush(int fd, struct connection *c) {
  while (c->outSent < c->outLength) {
    ssize_t n = write(fd, c->out + c->outSent, c->outLength - c->outSent);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
    c->outSent += (int)n;
  }
  c->outLength = c->outSent = 0;
  return 0;
}

static int respond(struct connection *c, int status, int keepAlive, int withBody) {
  const char *reason, *body, *extra = "";
  int bodyLength;
  switch (status) {
    case 200: reason = "OK"; body = page; bodyLength = pageLength; break;
    case 404: reason = "Not Found"; body = notFound; bodyLength = sizeof notFound - 1; break;
    case 405: reason = "Method Not Allowed"; body = notAllowed; bodyLength = sizeof notAllowed - 1;
      extra = "Allow: GET, HEAD\r\n"; break;
    case 431: reason = "Request Header Fields Too Large"; body = tooLarge; bodyLength = sizeof tooLarge - 1; break;
    default: reason = "Bad Request"; body = badRequest; bodyLength = sizeof badRequest - 1; break;
  }
  char head[512];
  int headLength = snprintf(head, sizeof head,
    "HTTP/1.1 %d %s\r\n%sServer: linux-peer-epoll\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
    "Connection: %s\r\n\r\n", status, reason, extra, bodyLength, keepAlive ? "keep-alive" : "close");
  if (queue(c, head, headLength) < 0 || (withBody && queue(c, body, bodyLength) < 0)) return -1;
  return 0;
}

/* A header named `name` (case-insensitive) in the head [from, to) whose value contains `token`. */
static int headerHas(const char *from, const char *to, const char *name, const char *token) {
  size_t nameLength = strlen(name), tokenLength = strlen(token);
  for (const char *line = from; line < to;) {
    const char *end = memchr(line, '\n', to - line);
    if (!end) end = to;
    if ((size_t)(end - line) > nameLength && strncasecmp(line, name, nameLength) == 0 && line[nameLength] == ':') {
      for (const char *v = line + nameLength + 1; v + tokenLength <= end; v++)
        if (strncasecmp(v, token, tokenLength) == 0) return 1;
    }
    line = end + 1;
  }
  return 0;
}

/* Answers every complete request in the input; -1 closes the connection now. */
static int serve(struct connection *c) {
  for (;;) {
    char *end = NULL;
    for (int i = 0; i + 3 < c->inLength; i++)
      if (memcmp(c->in + i, "\r\n\r\n", 4) == 0) { end = c->in + i + 4; break; }
    if (!end) {
      if (c->inLength >= HEAD_LIMIT) { respond(c, 431, 0, 1); c->closing = 1; }
      return 0;
    }
    char *lineEnd = memchr(c->in, '\r', end - c->in);
    char *space1 = memchr(c->in, ' ', lineEnd - c->in);
    char *space2 = space1 ? memchr(space1 + 1, ' ', lineEnd - space1 - 1) : NULL;
    int status, keepAlive = 0, withBody = 1;
    if (!space2 || lineEnd - space2 - 1 != 8 || memcmp(space2 + 1, "HTTP/1.", 7) != 0) {
      status = 400;
    } else {
      int minor = space2[8] - '0';
      int isGet = space1 - c->in == 3 && memcmp(c->in, "GET", 3) == 0;
      int isHead = space1 - c->in == 4 && memcmp(c->in, "HEAD", 4) == 0;
      size_t pathLength = space2 - space1 - 1;
      int index = (pathLength == 1 && space1[1] == '/') || (pathLength == 11 && memcmp(space1 + 1, "/index.html", 11) == 0);
      int close = headerHas(lineEnd, end, "Connection", "close");
      int hasBody = headerHas(lineEnd, end, "Transfer-Encoding", "") ||
        (headerHas(lineEnd, end, "Content-Length", "") && !headerHas(lineEnd, end, "Content-Length", " 0"));
      keepAlive = !close && !hasBody && (minor >= 1 || headerHas(lineEnd, end, "Connection", "keep-alive"));
      withBody = !isHead;
      status = !isGet && !isHead ? 405 : index ? 200 : 404;
    }
    if (respond(c, status, keepAlive, withBody) < 0) return -1;
    int used = (int)(end - c->in);
    memmove(c->in, end, c->inLength - used);
    c->inLength -= used;
    if (!keepAlive) { c->closing = 1; return 0; }
  }
}

static void readable(int fd) {
  struct connection *c = connections[fd];
  for (;;) {
    ssize_t n = read(fd, c->in + c->inLength, HEAD_LIMIT - c->inLength);
    if (n == 0) { closeConnection(fd); return; }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      closeConnection(fd);
      return;
    }
    c->inLength += (int)n;
    if (serve(c) < 0) { closeConnection(fd); return; }
    if (c->closing || c->inLength >= HEAD_LIMIT) break;
  }
  int r = flush(fd, c);
  if (r < 0 || (r == 0 && c->closing)) { closeConnection(fd); return; }
  struct epoll_event ev = { .events = EPOLLIN | (r == 1 ? EPOLLOUT : 0), .data.fd = fd };
  epoll_ctl(epollFd, EPOLL_CTL_MOD, fd, &ev);
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s PORT FILE\n", argv[0]); return 2; }
  FILE *f = fopen(argv[2], "rb");
  if (!f) { perror(argv[2]); return 1; }
  fseek(f, 0, SEEK_END);
  pageLength = (int)ftell(f);
  fseek(f, 0, SEEK_SET);
  page = malloc(pageLength);
  if (!page || fread(page, 1, pageLength, f) != (size_t)pageLength) { perror("read"); return 1; }
  fclose(f);
  connectionLimit = 65536;
  connections = calloc(connectionLimit, sizeof *connections);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
  if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 1024) < 0) {
    perror("bind/listen");
    return 1;
  }
  epollFd = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = listener };
  epoll_ctl(epollFd, EPOLL_CTL_ADD, listener, &ev);
  struct epoll_event events[EVENTS];
  for (;;) {
    int n = epoll_wait(epollFd, events, EVENTS, -1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        for (;;) {
          int client = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
          if (client < 0) break;
          if (client >= connectionLimit) { close(client); continue; }
          setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          connections[client] = calloc(1, sizeof **connections);
          if (!connections[client]) { close(client); continue; }
          struct epoll_event cev = { .events = EPOLLIN, .data.fd = client };
          epoll_ctl(epollFd, EPOLL_CTL_ADD, client, &cev);
        }
        continue;
      }
      struct connection *c = connections[fd];
      if (!c) continue;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) { closeConnection(fd); continue; }
      if (events[i].events & EPOLLOUT) {
        int r = flush(fd, c);
        if (r < 0 || (r == 0 && c->closing)) { closeConnection(fd); continue; }
        if (r == 0) {
          struct epoll_event mev = { .events = EPOLLIN, .data.fd = fd };
          epoll_ctl(epollFd, EPOLL_CTL_MOD, fd, &mev);
        }
      }
      if (events[i].events & EPOLLIN) readable(fd);
    }
  }
}
