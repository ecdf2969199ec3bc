package catalog

import (
	"fmt"
	"strings"
	"time"
)

// zonedLayouts are the forms a target time with a zone may take: a date, a time to the minute
// or the second (with a fraction), "T" or a space between them, and the zone as Z, +01:00, +0100
// or +01, right after the time or after a space. Every form the no-zone hint suggests is here.
var zonedLayouts = func() []string {
	var out []string
	for _, clock := range []string{"", " 15:04:05.999999999", "T15:04:05.999999999", " 15:04", "T15:04"} {
		for _, gap := range []string{"", " "} {
			for _, zone := range []string{"Z07:00", "Z0700", "Z07"} {
				out = append(out, "2006-01-02"+clock+gap+zone)
			}
		}
	}
	return out
}()

// TargetTimeLayout formats a target time the way both CloudNativePG and PostgreSQL take it:
// PostgreSQL's own timestamp form with at most microseconds and the zone as "+00:00"
// (2026-02-05 08:05:58.123456+00:00). Not RFC 3339 on purpose: CloudNativePG rewrites an RFC 3339
// targetTime into recovery_target_time with ConvertToPostgresFormat, which writes a UTC time
// with "Z", and PostgreSQL refuses "Z" there at startup ("invalid value for parameter", the
// recovery never starts; cloudnative-pg#10819, #9333). Any other form is passed on unchanged,
// and the Cluster's webhook accepts PostgreSQL's timestamp form.
const TargetTimeLayout = "2006-01-02 15:04:05.999999-07:00"

// ParseTargetTime parses a recovery target time: RFC 3339 (2026-02-05T02:00:00Z) or the
// form PostgreSQL accepts for recovery_target_time (2026-02-05 02:00:00+01, +01:00, +0100, or
// " UTC"). A time without a zone is an error: guessing the zone of a restore point restores the
// wrong data.
func ParseTargetTime(s string) (time.Time, error) {
	in := strings.TrimSpace(s)
	v := in
	if strings.HasSuffix(v, "UTC") || strings.HasSuffix(v, "GMT") {
		v = strings.TrimSpace(v[:len(v)-3]) + "Z"
	}
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, v); err == nil {
			if t.Nanosecond()%1000 != 0 {
				// Rounding would move the target across commits; PostgreSQL refuses the value.
				return time.Time{}, fmt.Errorf("target time %q is more precise than PostgreSQL's microseconds: give at most 6 fractional digits", s)
			}
			return t.UTC(), nil
		}
	}
	for _, l := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if _, err := time.Parse(l, v); err == nil {
			return time.Time{}, fmt.Errorf("target time %q has no time zone: add one (%sZ, %s+00:00, %s+01 or %s UTC); the tool will not guess it", s, in, in, in, in)
		}
	}
	return time.Time{}, fmt.Errorf("target time %q is not RFC 3339 (2026-02-05T02:00:00Z) or PostgreSQL's 2026-02-05 02:00:00+00", s)
}
