// Package datagen is the datagen source of runnel: it generates realistic
// sample records, deterministically, for quickstarts, examples and tests,
// like Kafka Connect's datagen or Flink's datagen connector. Config.Preset
// picks the kind of records; Count bounds a run and Rate paces it.
//
// # Records
//
// Every record has the user or customer id as its key, a compact JSON
// object as its value, its event time (Unix ms, the "ts" of the JSON) as
// its time, and no headers. Record i is a pure function of Seed, Preset,
// i, Start, Interval and Keys: generating it again after a crash gives the
// same bytes, whatever the position the source resumed at (every random
// draw comes from a PCG seeded for the one record, or the one burst of
// clicks, it decides; see gen.go). Ids run from 0 to Keys-1. The event
// time of record i starts from
//
//	base(i) = Start + i*Interval
//
// PresetPageviews, a visit to one of six pages, "/" the most popular and
// "/signup" the least:
//
//	{"user":"user-88","page":"/docs/quickstart","ts":1795251600000,"referrer":"direct","ms_on_page":2760}
//
// Its ts is base(i), but for 5% of the records, out of order, whose ts is
// 1 ms to 20 s earlier, and 1%, late, whose ts is 2 minutes earlier. The
// referrer is "direct", "google", "github", "twitter" or "newsletter";
// ms_on_page is 1000 to 90401, mostly short.
//
// PresetOrders, an order in the currency of the customer's country (a
// customer always orders from the same one of US, DE, GB, FR, ES, IT, NL
// and IE):
//
//	{"order_id":"o-0","customer":"cust-166","amount":49.99,"currency":"EUR","country":"DE","ts":1795251600000}
//
// order_id is "o-<i>". The amount always has two decimals: 80% of the
// orders are under 100 (mostly small), 17% from 100 to 500 and 3% from
// 500 to 2000. The currency is "EUR", "USD" or "GBP". ts is base(i), but
// for 2% of the records, out of order by 1 ms to 10 s.
//
// PresetClicks, the clicks of users in sessions:
//
//	{"user":"user-6","page":"/","ts":1795251600061,"action":"view"}
//
// Each user is active in bursts of 3 to 15 clicks, 1 to 10 s apart,
// separated by 150 s to 10 minutes of idleness: a session window with a
// gap from 10 s to 150 s (60 s, say) sees each burst as one session. A
// burst starts with a "view" of a landing page ("/", "/blog", "/docs" or
// "/pricing"); its other clicks are a "view", "click", "add_to_cart" or
// "buy" (rarest) of any page. Event times do not decrease, but for 2% of
// the clicks, which come late, after clicks up to 5 s younger: their ts
// is when they happened, so the sessions of a user are exact. Interval
// does not apply: the clicks come at about Keys/40 per second of event
// time.
//
// # The clicks schedule
//
// Event time is cut into frames of 150 s, frame f starting at Start +
// f*150s. User u is active in every second or every third frame (its
// period and phase are drawn from (Seed, u)), so the set of active users
// repeats every 6 frames. In each frame it is active in, a user makes one
// burst that lies wholly inside the frame; between two bursts of a user
// there is at least one whole frame. The burst sizes of a frame are drawn
// in pairs summing to 18 (its active users, in id order, are paired; an
// odd one out makes 9 clicks), so a frame with A active users holds
// exactly 9*A clicks and a cycle of 6 frames a fixed number: the frame of
// record i, and its first record, are found by division, without
// generating the frames before it. The clicks of a frame are generated
// from (Seed, frame, user), 2% of them with a delay of up to 5 s (that
// ends within the frame), and sorted by their time plus delay (then time,
// user); record i is the (i-first)-th of its frame. A source keeps the
// frame it is in; resuming costs generating one frame.
//
// # Tasks and positions
//
// The source has a single task, 0, and one input, whose name carries
// the start of its records:
//
//	engine.Input{Stream: "datagen:" + Preset + "@" + Start, Partition: 0}
//
// Without Config.Start the start is the time of the first run, to the
// second, so that the records are recent (a topic's retention.ms, 7 days
// by default, compares record times with the clock: records stamped
// weeks ago would be deleted before anything read them). The positions
// keep it: a source that resumes at a stored position of its preset
// takes the start of that position's input, so record i has the same
// time in every run. A position stored by an older runnel, of the input
// "datagen:" + Preset, goes on from LegacyStart. A Config.Start that
// differs from the stored one is another data set: it starts at record 0.
//
// Record i has Pos{Offset: i, Next: i+1}: a position is the index of the
// next record to generate. On the first Poll the source calls
// Assignments.Assigned for task 0 and resumes at the position returned
// for its input; without one, at the position in Config.OffsetsFile; and
// without that, at record 0. With Count set, the run generates Count
// records from there and Poll then returns connect.ErrEndOfInput; Lag
// reports the records left.
//
// With Rate set, Poll returns records as they fall due at Rate per second
// of wall-clock time (record k of the run at k/Rate), waiting on a timer
// in between; a consumer slower than Rate gets at most MaxBatch records
// at once, not a burst of all it missed.
//
// # Delivery
//
// As the records are a function of their position, the source replays
// exactly: with an exactly-once sink, which stores the position with its
// output and reports it through Assignments.Assigned, the output is
// exactly once. With an at-least-once sink (a topic sink without
// transactions) the runtime calls Commit after the sink's commit, and a
// crash between the two regenerates identical records, which the sink
// then holds twice.
//
// # Commit
//
// Commit writes the position of task 0 to OffsetsFile, when set, as JSON,
// atomically (temporary file, fsync, rename, fsync of the directory):
//
//	{"version":2,"preset":"orders","stream":"datagen:orders@2026-12-07T09:00:00Z","next":1500}
//
// (Version 1 had no stream: its position is of the input without a start.)
//
// An OffsetsFile that is not valid JSON, has another version, or holds
// the position of another preset fails Open with an error naming the
// file. Without OffsetsFile Commit does nothing.
//
// RewindOffsetsFile sets the position of an offsets file back to record 0
// of its input (a reset of the pipeline, to process the input again):
// with no position from the sink, the source then generates the same
// records again, with the start the file names.
//
// # Concurrency
//
// Open, Poll and Close must be called from one goroutine at a time. Lag
// and Commit may be called from any goroutine, concurrently with Poll.
package datagen
