package kafkahash

import "testing"

// Java's String.hashCode and Kafka's partitionFor, with the values a JVM
// (OpenJDK, String.hashCode and Kafka's Utils.abs(h) % 50) prints.
func TestJavaStringHash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    string
		want int32
	}{
		{"", 0},
		{"abc", 96354},
		{"hello", 99162322},
		{"Aa", 2112},
		{"BB", 2112},
		{"polygenelubricants", -1 << 31}, // Integer.MIN_VALUE
		{"é", 233},
		{"😀", 0xD83D*31 + 0xDE00}, // a surrogate pair: two UTF-16 units
		{"console-consumer-12345", 158455506},
		{"my-group", -1906497762},
	} {
		if got := JavaStringHash(tc.s); got != tc.want {
			t.Errorf("hash(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}

// Kafka's partitionFor: abs with MIN_VALUE mapped to 0.
func TestPartitionFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		group string
		n     int
		want  int32
	}{
		{"polygenelubricants", 50, 0},
		{"hello", 50, 99162322 % 50},
		{"hello", 1, 0},
		{"console-consumer-12345", 50, 6},
		{"my-group", 50, 12}, // a negative hash
		{"😀", 50, 49},
	} {
		if got := Partition(tc.group, tc.n); got != tc.want {
			t.Errorf("Partition(%q, %d) = %d, want %d", tc.group, tc.n, got, tc.want)
		}
	}
}
