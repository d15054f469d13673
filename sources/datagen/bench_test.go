package datagen

import (
	"context"
	"testing"
)

// BenchmarkPoll measures unpaced Polls of a full batch (500 records).
func BenchmarkPoll(b *testing.B) {
	for _, preset := range Presets() {
		b.Run(preset, func(b *testing.B) {
			s := open(b, Config{Preset: preset}, nil)
			ctx := context.Background()
			b.ReportAllocs()
			var recs, bytes int64
			for b.Loop() {
				bs, err := s.Poll(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range bs[0].Records {
					bytes += int64(len(r.Key) + len(r.Value))
				}
				recs += int64(len(bs[0].Records))
			}
			b.SetBytes(bytes / int64(b.N))
			b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(bytes)/float64(recs), "bytes/record")
		})
	}
}
