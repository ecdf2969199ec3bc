// Package human formats sizes and durations for people, the same way in the terminal and in
// the pull request.
package human

import (
	"fmt"
	"strings"
	"time"
)

// Bytes is n in binary units: "512 B", "1.5 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Seconds is a whole number of seconds as a duration: "1m30s".
func Seconds(s int) string { return (time.Duration(s) * time.Second).String() }

// Timelines is a list of timelines joined with sep: "1 → 2" for a path, "1, 2" for a set.
func Timelines(v []uint32, sep string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, sep)
}
