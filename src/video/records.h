/*
 * records.h - what fer video writes about the faces, frame by frame, and what it remembers
 * of each track for the end:
 *   JSON lines  one line per frame: {"frame": N, "time": S, "faces": [face records]} with
 *               the one face record of fer predict and the API (pipeline/face_json.h), the
 *               track's id as its "id"
 *   CSV         one row per face per frame: frame,time,id,x,y,w,h,score,emotion,confidence
 *               and one column per class
 *   history     each track's smoothed probabilities over time, for the timeline figure and
 *               the summary (dominant emotion, share of time per emotion)
 */
#ifndef FER_VIDEO_RECORDS_H
#define FER_VIDEO_RECORDS_H

#include <jansson.h>
#include <stddef.h>

#include "core/status.h"
#include "fer.h"
#include "report/report.h" /* struct fer_track_history */

typedef struct fer_video_records fer_video_records;

/* Opens the writers: jsonl and csv are paths, "-" for standard output, or NULL for none. */
enum fer_status fer_video_records_open(const fer_engine *e, const char *jsonl, const char *csv,
                                       fer_video_records **out, char *err);
/* Writes one frame's faces and remembers them. */
enum fer_status fer_video_records_add(fer_video_records *r, long frame, double time,
                                      const fer_tracks *t, char *err);
/* Flushes and closes the files: an error here (a full disk) is reported. */
enum fer_status fer_video_records_close(fer_video_records *r, char *err);
void fer_video_records_free(fer_video_records *r);

/* The tracks seen so far, in order of their ids (borrowed until the next add or free). */
const struct fer_track_history *fer_video_records_tracks(const fer_video_records *r, size_t *n);
/* Per track: {"id", "first_seen", "last_seen", "frames", "dominant", "share": {emotion: f}}. */
json_t *fer_video_records_summary(const fer_video_records *r);

#endif
