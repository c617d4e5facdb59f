/*
 * fer2013_csv.c - reads and writes FER2013 faces in the original fer2013.csv
 * format (`emotion,pixels,Usage`), plain or gzip-compressed.
 *
 * The reader streams the file through zlib (gzread reads plain files too) in
 * 1 MiB chunks, cuts it into lines without a fixed line limit below 1 MiB,
 * splits each line into CSV fields (double quotes allowed) and parses the
 * 2304 pixels by hand: the 240 MB training file loads in about a second.
 * Every error names the file and the 1-based line number.
 */
#include "data/dataset.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/file.h"
#include "data/csv_fields.h"

#define CSV_CHUNK     (1u << 20) /* bytes asked of gzread at a time */
#define CSV_MAX_LINE  (1u << 20) /* a longer line is an error, not a reason to grow */
#define CSV_INIT_ROWS 16
#define CSV_FIELDS    3
#define CSV_SLACK     8            /* readable bytes after the last one read */
#define CSV_FIRST_BUF (64u * 1024) /* the buffer's first size: small files stay small */

/* Streams lines out of a (possibly gzip-compressed) file. */
struct line_reader {
    gzFile gz;
    const char *path;
    char *buf; /* cap + CSV_SLACK bytes; cap grows to CSV_MAX_LINE + CSV_CHUNK at most */
    size_t cap;
    size_t pos;  /* start of the next line */
    size_t len;  /* bytes of valid data in buf */
    size_t scan; /* bytes from pos already known to hold no '\n' */
    size_t line; /* 1-based number of the line last returned */
    int eof;
    int truncated; /* the gzip stream broke off after the data in buf */
};

/* Formats "path:line: reason" into err and returns FER_ERR_FORMAT. */
__attribute__((format(printf, 4, 5))) static enum fer_status
line_error(char *err, const char *path, size_t line, const char *fmt, ...)
{
    char reason[FER_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    return fer_errorf(err, FER_ERR_FORMAT, "%s:%zu: %s", path, line, reason);
}

/* zlib's message without the "path: " it puts in front. */
static const char *zlib_reason(gzFile gz, const char *path, int *zerr)
{
    const char *msg = gzerror(gz, zerr);
    size_t n = strlen(path);
    if (!msg || !*msg)
        return "zlib error";
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

/*
 * Reads the next chunk. A truncated or corrupt gzip stream is an error even
 * mid-file. zlib reports truncation (Z_BUF_ERROR) together with the last
 * good bytes; those are returned first and the error comes with the next
 * call, so that its line number is the line the stream broke off in.
 */
static enum fer_status reader_fill(struct line_reader *r, char *err)
{
    int got = 0, zerr = Z_BUF_ERROR;
    const char *why = "unexpected end of file";
    if (r->len == r->cap) { /* full: grow, up to the longest line plus a chunk */
        size_t cap = r->cap * 2 < CSV_MAX_LINE + CSV_CHUNK ? r->cap * 2 : CSV_MAX_LINE + CSV_CHUNK;
        char *b = cap > r->cap ? fer_realloc(r->buf, cap + CSV_SLACK) : NULL;
        if (!b)
            return fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory for a line", r->path);
        r->buf = b;
        r->cap = cap;
    }
    if (!r->truncated) {
        size_t room = r->cap - r->len;
        got = gzread(r->gz, r->buf + r->len, room < CSV_CHUNK ? (unsigned)room : CSV_CHUNK);
        why = zlib_reason(r->gz, r->path, &zerr);
        if (got > 0 && zerr == Z_BUF_ERROR) {
            r->truncated = 1;
            zerr = Z_OK;
        }
    }
    if (got < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        if (zerr == Z_ERRNO)
            return fer_errorf(err, FER_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
        if (zerr == Z_MEM_ERROR)
            return fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory in zlib", r->path);
        return fer_errorf(err, FER_ERR_FORMAT, "%s:%zu: truncated or corrupt gzip stream (%s)",
                          r->path, r->line + 1, why);
    }
    r->eof = got == 0;
    r->len += (size_t)got;
    memset(r->buf + r->len, 0, CSV_SLACK); /* what parse_pixels' 4-byte loads may see */
    return FER_OK;
}

/*
 * Returns the next line (without "\n" or "\r\n") in *line / *n, or *line = NULL
 * at the end of the file. The line stays valid until the next call; the
 * caller may modify its bytes.
 */
static enum fer_status reader_next(struct line_reader *r, char **line, size_t *n, char *err)
{
    for (;;) {
        char *nl = memchr(r->buf + r->pos + r->scan, '\n', r->len - r->pos - r->scan);
        size_t end;
        if (nl) {
            end = (size_t)(nl - r->buf);
        } else if (r->eof) {
            if (r->pos == r->len) {
                *line = NULL;
                *n = 0;
                return FER_OK;
            }
            end = r->len;
        } else {
            r->scan = r->len - r->pos;
            if (r->scan > CSV_MAX_LINE)
                return line_error(err, r->path, r->line + 1, "line longer than %u bytes",
                                  CSV_MAX_LINE);
            memmove(r->buf, r->buf + r->pos, r->scan);
            r->len = r->scan;
            r->pos = 0;
            enum fer_status st = reader_fill(r, err);
            if (st != FER_OK)
                return st;
            continue;
        }
        r->line++;
        size_t len = end - r->pos;
        if (len > CSV_MAX_LINE)
            return line_error(err, r->path, r->line, "line longer than %u bytes", CSV_MAX_LINE);
        *line = r->buf + r->pos;
        if (len > 0 && (*line)[len - 1] == '\r')
            len--;
        *n = len;
        r->pos = nl ? end + 1 : end;
        r->scan = 0;
        return FER_OK;
    }
}

/*
 * Splits a line into at most `max` comma-separated fields. A field may be
 * wrapped in double quotes, with "" standing for one quote inside; the quotes
 * are removed in place. An unterminated quote, anything but a comma after a
 * closing quote, a quote inside an unquoted field or more than `max` fields is
 * an error (reason written into why).
 */
static int split_fields(char *s, size_t len, struct fer_span *f, int max, char *why, size_t why_len)
{
    size_t i = 0;
    int k = 0;
    for (;;) {
        if (k == max) {
            snprintf(why, why_len, "more than %d fields", max);
            return -1;
        }
        if (i < len && s[i] == '"') {
            size_t r = i + 1, w = i + 1;
            for (;;) {
                char *q = memchr(s + r, '"', len - r);
                if (!q) {
                    snprintf(why, why_len, "unterminated quote in field %d", k + 1);
                    return -1;
                }
                size_t qi = (size_t)(q - s);
                memmove(s + w, s + r, qi - r);
                w += qi - r;
                if (qi + 1 < len && s[qi + 1] == '"') {
                    s[w++] = '"';
                    r = qi + 2;
                    continue;
                }
                r = qi + 1;
                break;
            }
            f[k].p = s + i + 1;
            f[k].n = w - (i + 1);
            k++;
            if (r == len)
                return k;
            if (s[r] != ',') {
                snprintf(why, why_len, "unexpected '%c' after closing quote in field %d",
                         s[r] >= 0x20 && s[r] < 0x7f ? s[r] : '?', k);
                return -1;
            }
            i = r + 1;
        } else {
            char *comma = memchr(s + i, ',', len - i);
            size_t end = comma ? (size_t)(comma - s) : len;
            if (memchr(s + i, '"', end - i)) {
                snprintf(why, why_len, "stray quote inside unquoted field %d", k + 1);
                return -1;
            }
            f[k].p = s + i;
            f[k].n = end - i;
            k++;
            if (!comma)
                return k;
            i = end + 1;
        }
    }
}

static int span_is(struct fer_span s, const char *word)
{
    size_t n = strlen(word);
    return s.n == n && strncasecmp(s.p, word, n) == 0;
}

/*
 * Parses the pixel token at p (digits up to the next space or e): stores its
 * value in *v and returns the end of the token, or NULL with the reason in
 * why. `index` is the 1-based pixel number for the message.
 */
static const unsigned char *parse_token(const unsigned char *p, const unsigned char *e, unsigned *v,
                                        size_t index, char *why, size_t why_len)
{
    const unsigned char *tok = p;
    char shown[32];
    unsigned x = 0;
    while (p < e && (unsigned)(*p - '0') < 10u) {
        x = x * 10u + (unsigned)(*p - '0');
        if (x > 999u)
            x = 999u; /* keeps a long digit string from overflowing */
        p++;
    }
    if (p == tok || (p < e && *p != ' ')) {
        const unsigned char *te = p;
        while (te < e && *te != ' ')
            te++;
        snprintf(why, why_len, "pixel %zu is not an integer: \"%s\"", index,
                 fer_csv_show(shown, (const char *)tok, (size_t)(te - tok)));
        return NULL;
    }
    if (x > 255u) {
        snprintf(why, why_len, "pixel %zu value %s out of range 0..255", index,
                 fer_csv_show(shown, (const char *)tok, (size_t)(p - tok)));
        return NULL;
    }
    *v = x;
    return p;
}

/*
 * Parses exactly FER_FACE_PIXELS integers 0..255 separated by one or more
 * spaces into px. This is the reader's hot loop (66 million numbers in the
 * training file), so a token of 1..3 digits followed by a space is decoded
 * from one 4-byte load without branching on its length; anything else goes
 * through parse_token. Needs s.p[s.n] to be a non-digit and 3 readable bytes
 * after it (the caller's buffer guarantees both).
 */
static int parse_pixels(struct fer_span s, uint8_t *px, char *why, size_t why_len)
{
    const unsigned char *p = (const unsigned char *)s.p, *e = p + s.n;
    size_t count = 0;
    for (;;) {
        while (p < e && *p == ' ')
            p++;
        if (p == e)
            break;
        unsigned v = 0;
        const unsigned char *next = NULL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint32_t w;
        memcpy(&w, p, 4);
        uint32_t x = w ^ 0x30303030u; /* digit bytes become 0..9 */
        /* High bit of each byte that is not 0..9 (carries only disturb bytes after the first). */
        uint32_t nondigit = ((x + 0x76767676u) | x) & 0x80808080u;
        int nd = nondigit ? __builtin_ctz(nondigit) >> 3 : 4;
        if (nd >= 1 && nd <= 3 && (p + nd == e || p[nd] == ' ')) {
            /* Right-align the digits as three (leading zeros), then weigh them 100, 10, 1. */
            uint32_t y = (x << (8 * (3 - nd))) & 0xffffffu;
            v = (y & 0xffu) * 100u + ((y >> 8) & 0xffu) * 10u + (y >> 16);
            next = v <= 255u ? p + nd : NULL;
        }
#endif
        if (!next && !(next = parse_token(p, e, &v, count + 1, why, why_len)))
            return -1;
        p = next;
        if (count < FER_FACE_PIXELS)
            px[count] = (uint8_t)v;
        count++;
    }
    if (count != FER_FACE_PIXELS) {
        snprintf(why, why_len, "expected %d pixels, found %zu", FER_FACE_PIXELS, count);
        return -1;
    }
    return 0;
}

/* Label: a decimal integer 0..6. Returns it, or -1 with the reason in why. */
static int parse_label(struct fer_span s, char *why, size_t why_len)
{
    char shown[32];
    size_t digits = 0;
    while (digits < s.n && (unsigned)(s.p[digits] - '0') < 10u)
        digits++;
    while (s.n > 1 && digits == s.n && s.p[0] == '0') {
        s.p++; /* leading zeros */
        s.n--;
        digits--;
    }
    if (s.n == 0)
        snprintf(why, why_len, "empty emotion label");
    else if (digits < s.n)
        snprintf(why, why_len, "emotion label \"%s\" is not an integer 0..6",
                 fer_csv_show(shown, s.p, s.n));
    else if (s.n > 1 || s.p[0] > '6')
        snprintf(why, why_len, "emotion label %s out of range 0..6", fer_csv_show(shown, s.p, s.n));
    else
        return s.p[0] - '0';
    return -1;
}

/* Grows every per-row array of ds to hold at least `need` rows (geometrically). */
static enum fer_status reserve_rows(fer_dataset *ds, size_t *cap, size_t need, char *err)
{
    if (need <= *cap)
        return FER_OK;
    size_t want = *cap ? *cap : CSV_INIT_ROWS;
    while (want < need)
        want *= 2;
    size_t px_bytes;
    if (!fer_size_mul(want, FER_FACE_PIXELS, &px_bytes) || want > UINT32_MAX)
        return fer_errorf(err, FER_ERR_LIMIT, "too many rows (%zu)", need);
    /* Each pointer is stored as soon as it moved, so a later failure leaks nothing. */
    void *p = fer_realloc(ds->pixels, px_bytes);
    if (!p)
        goto nomem;
    ds->pixels = p;
    if (!(p = fer_realloc(ds->labels, want)))
        goto nomem;
    ds->labels = p;
    if (!(p = fer_realloc(ds->usage, want)))
        goto nomem;
    ds->usage = p;
    if (!(p = fer_realloc(ds->usage_rank, want * sizeof(uint32_t))))
        goto nomem;
    ds->usage_rank = p;
    *cap = want;
    return FER_OK;
nomem:
    return fer_errorf(err, FER_ERR_NOMEM, "out of memory for %zu rows", want);
}

/* Checks the header line; a UTF-8 byte order mark in front of it is accepted. */
static enum fer_status check_header(const char *path, char *line, size_t len, char *err)
{
    if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
        line += 3;
        len -= 3;
    }
    struct fer_span f[CSV_FIELDS];
    char why[128], shown[32];
    fer_csv_show(shown, line, len); /* before split_fields removes quotes */
    int nf = split_fields(line, len, f, CSV_FIELDS, why, sizeof(why));
    if (nf == CSV_FIELDS && span_is(fer_span_trim(f[0]), "emotion") &&
        span_is(fer_span_trim(f[1]), "pixels") && span_is(fer_span_trim(f[2]), "Usage"))
        return FER_OK;
    return line_error(err, path, 1, "expected the header \"emotion,pixels,Usage\", found \"%s\"",
                      shown);
}

/* Opens the file behind r->path (gzip-compressed or plain) and checks its header line. */
static enum fer_status reader_open(struct line_reader *r, char *err)
{
    int fd;
    struct stat sb;
    enum fer_status st = fer_file_open_regular(r->path, "data file", &fd, &sb, err);
    if (st != FER_OK)
        return st;
    r->gz = gzdopen(fd, "rb");
    if (!r->gz) {
        close(fd);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory opening %s", r->path);
    }
    if (sb.st_size > (1 << 20))
        gzbuffer(r->gz, 1u << 17); /* fewer reads on FER2013's 90 MB; zlib's 8 KB otherwise */
    char *line;
    size_t len;
    if ((st = reader_next(r, &line, &len, err)) != FER_OK)
        return st;
    if (!line)
        return fer_errorf(err, FER_ERR_FORMAT,
                          "%s: empty file (expected the header \"emotion,pixels,Usage\")", r->path);
    return check_header(r->path, line, len, err);
}

/*
 * Parses one row: *usage gets its Usage (-1 when that field cannot be read), px its pixels.
 * Returns its label, or -1 with the reason the row is malformed in why.
 */
static int parse_row(char *line, size_t len, int *usage, uint8_t *px, char *why, size_t why_len)
{
    struct fer_span f[CSV_FIELDS];
    char shown[32];
    int label = -1;
    *usage = -1;
    int nf = split_fields(line, len, f, CSV_FIELDS, why, why_len);
    if (nf >= 0 && nf != CSV_FIELDS)
        snprintf(why, why_len, "expected 3 fields (emotion,pixels,Usage), found %d", nf);
    if (nf == CSV_FIELDS) {
        struct fer_span us = fer_span_trim(f[2]);
        *usage = fer_span_usage(us);
        if (*usage < 0)
            snprintf(why, why_len,
                     "unknown usage \"%s\" (expected Training, PublicTest or PrivateTest)",
                     fer_csv_show(shown, us.p, us.n));
    }
    if (*usage >= 0)
        label = parse_label(fer_span_trim(f[0]), why, why_len);
    if (label >= 0) {
        f[1].p[f[1].n] = ','; /* the sentinel parse_pixels needs; past the field */
        if (parse_pixels(f[1], px, why, why_len) != 0)
            label = -1;
    }
    return label;
}

/*
 * Reads the rows after the header into ds: those of want_usage (-1: all), up to max_rows
 * (0: all). Malformed rows are errors, or with skip_bad counted in *skipped, the first one's
 * reason left in err.
 */
static enum fer_status read_rows(struct line_reader *r, fer_dataset *ds, int want_usage,
                                 size_t max_rows, int skip_bad, size_t *skipped, char *err)
{
    enum fer_status st;
    size_t cap = 0, rows_seen = 0;
    uint32_t rank[FER_USAGE_COUNT] = {0};
    char *line;
    size_t len;
    for (;;) {
        if ((st = reader_next(r, &line, &len, err)) != FER_OK)
            return st;
        if (!line)
            break;
        if (len == 0)
            continue; /* blank lines are not rows */
        rows_seen++;
        if ((st = reserve_rows(ds, &cap, ds->n + 1, err)) != FER_OK)
            return st;
        char why[160];
        int usage, label = parse_row(line, len, &usage, ds->pixels + ds->n * FER_FACE_PIXELS, why,
                                     sizeof(why));
        uint32_t row_rank = 0;
        if (usage >= 0) {
            if (rank[usage] == UINT32_MAX)
                return fer_errorf(err, FER_ERR_LIMIT, "%s:%zu: too many rows", r->path, r->line);
            row_rank = rank[usage]++;
        }
        if (label < 0) {
            if (!skip_bad)
                return line_error(err, r->path, r->line, "%s", why);
            /* The first skipped row's reason stays in err for the caller to show. */
            if ((*skipped)++ == 0)
                line_error(err, r->path, r->line, "%s (row skipped)", why);
            continue;
        }
        if (want_usage >= 0 && usage != want_usage)
            continue;
        ds->labels[ds->n] = (uint8_t)label;
        ds->usage[ds->n] = (uint8_t)usage;
        ds->usage_rank[ds->n] = row_rank;
        ds->n++;
        if (max_rows && ds->n == max_rows)
            break;
    }
    if (rows_seen == 0)
        return fer_errorf(err, FER_ERR_FORMAT, "%s holds only its header: no faces", r->path);
    return FER_OK;
}

/*
 * usage_rank counts row positions in the file, not kept rows: the rank of a
 * row is the number of earlier rows with the same Usage, counted before the
 * usage filter and max_rows, and including malformed rows that were skipped
 * (they still occupy a row of the original fer2013.csv). This keeps FER+
 * alignment right when filtering or skipping. A row whose Usage field itself
 * cannot be read belongs to no usage and counts for none.
 */
enum fer_status fer_dataset_read_csv(const char *path, const struct fer_read_options *opt,
                                     fer_dataset **out, size_t *n_skipped, char *err)
{
    enum fer_status st = FER_OK;
    struct line_reader r = {0};
    fer_dataset *ds = NULL;
    size_t skipped = 0;
    int want_usage = opt ? opt->usage : -1;

    if (!path || !out)
        return fer_errorf(err, FER_ERR_ARG, "fer_dataset_read_csv: NULL argument");
    *out = NULL;
    if (n_skipped)
        *n_skipped = 0;
    if (want_usage < -1 || want_usage >= FER_USAGE_COUNT)
        return fer_errorf(err, FER_ERR_ARG, "%s: invalid usage filter %d", path, want_usage);

    r.path = path;
    /* With CSV_SLACK bytes past the data for parse_pixels' 4-byte loads, zeroed by each fill;
       small at first, as most lines are short and many files small */
    r.cap = CSV_FIRST_BUF;
    r.buf = fer_malloc(r.cap + CSV_SLACK);
    ds = fer_calloc(1, sizeof(*ds));
    if (!r.buf || !ds) {
        st = fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory", path);
        goto error;
    }
    ds->n_classes = 7;
    if ((st = reader_open(&r, err)) != FER_OK ||
        (st = read_rows(&r, ds, want_usage, opt ? opt->max_rows : 0, opt ? opt->skip_bad_rows : 0,
                        &skipped, err)) != FER_OK)
        goto error;
    gzclose(r.gz);
    fer_free(r.buf);
    if (n_skipped)
        *n_skipped = skipped;
    *out = ds;
    return FER_OK;

error:
    if (r.gz)
        gzclose(r.gz);
    fer_free(r.buf);
    fer_dataset_free(ds);
    return st;
}

/* Appends the decimal form of v (0..255) at p; returns the new end. */
static char *put_u8(char *p, unsigned v)
{
    if (v >= 100u) {
        *p++ = (char)('0' + v / 100u);
        *p++ = (char)('0' + v / 10u % 10u);
    } else if (v >= 10u) {
        *p++ = (char)('0' + v / 10u);
    }
    *p++ = (char)('0' + v % 10u);
    return p;
}

static enum fer_status write_error(char *err, gzFile gz, const char *path)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(gz, &zerr);
    if (zerr == Z_ERRNO || !zmsg || !*zmsg)
        return fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", path, zmsg);
}

/*
 * Labels are written as stored, usage by name; soft targets are not written
 * (the format has no place for them). The header is `emotion,pixels,Usage`.
 */
enum fer_status fer_dataset_write_csv(const fer_dataset *ds, const char *path, int usage, char *err)
{
    enum fer_status st = FER_OK;
    char *tmp = NULL, *row = NULL;
    gzFile gz = NULL;

    if (!ds || !path)
        return fer_errorf(err, FER_ERR_ARG, "fer_dataset_write_csv: NULL argument");
    if (usage < -1 || usage >= FER_USAGE_COUNT)
        return fer_errorf(err, FER_ERR_ARG, "%s: invalid usage %d", path, usage);
    size_t plen = strlen(path);
    int compress = plen >= 3 && strcmp(path + plen - 3, ".gz") == 0;
    /* label, comma, 2304 pixels of at most 4 bytes each, comma, usage, newline */
    size_t row_cap = 8 + 4 * (size_t)FER_FACE_PIXELS + 16;
    tmp = fer_malloc(plen + 5);
    row = fer_malloc(row_cap);
    if (!tmp || !row) {
        st = fer_errorf(err, FER_ERR_NOMEM, "%s: out of memory", path);
        goto end;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);

    errno = 0;
    gz = gzopen(tmp, compress ? "wb6" : "wbT");
    if (!gz) {
        st = fer_errorf(err, FER_ERR_IO, "cannot create %s: %s", tmp,
                        errno ? strerror(errno) : "out of memory");
        goto end;
    }
    static const char header[] = "emotion,pixels,Usage\n";
    if (gzwrite(gz, header, sizeof(header) - 1) != (int)(sizeof(header) - 1)) {
        st = write_error(err, gz, tmp);
        goto end;
    }
    for (size_t i = 0; i < ds->n; i++) {
        if (usage >= 0 && ds->usage[i] != usage)
            continue;
        const uint8_t *px = ds->pixels + i * FER_FACE_PIXELS;
        char *p = put_u8(row, ds->labels[i]);
        *p++ = ',';
        for (int k = 0; k < FER_FACE_PIXELS; k++) {
            p = put_u8(p, px[k]);
            *p++ = ' ';
        }
        p[-1] = ',';
        const char *uname = fer_usage_name((enum fer_usage)ds->usage[i]);
        size_t un = strlen(uname);
        memcpy(p, uname, un);
        p += un;
        *p++ = '\n';
        unsigned n = (unsigned)(p - row);
        if (gzwrite(gz, row, n) != (int)n) {
            st = write_error(err, gz, tmp);
            goto end;
        }
    }
    int zst = gzclose(gz);
    gz = NULL;
    if (zst != Z_OK) {
        st = fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", tmp,
                        zst == Z_ERRNO ? strerror(errno) : "zlib error on close");
        goto end;
    }
    if (rename(tmp, path) != 0) {
        st = fer_errorf(err, FER_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto end;
    }

end:
    if (gz)
        gzclose(gz);
    if (st != FER_OK && tmp)
        unlink(tmp);
    fer_free(tmp);
    fer_free(row);
    return st;
}
