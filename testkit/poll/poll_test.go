package poll

import (
	"testing"
	"time"
)

func TestUntilAsksUntilTheConditionHolds(t *testing.T) {
	asked := 0
	if !Until(time.Minute, time.Millisecond, func() bool { asked++; return asked == 3 }) || asked != 3 {
		t.Fatalf("held after %d asks", asked)
	}
	asked = 0
	if !Until(0, time.Hour, func() bool { asked++; return true }) || asked != 1 {
		t.Fatalf("a condition that holds at once was asked %d times", asked)
	}
}

func TestUntilGivesUpAtTheTimeout(t *testing.T) {
	start, asked := time.Now(), 0
	if Until(30*time.Millisecond, time.Millisecond, func() bool { asked++; return false }) {
		t.Fatal("a condition that never holds held")
	}
	if took := time.Since(start); took < 30*time.Millisecond || asked < 2 {
		t.Fatalf("gave up after %v and %d asks", took, asked)
	}
	// Asked one last time once the time is up.
	asked = 0
	if !Until(10*time.Millisecond, time.Hour, func() bool { asked++; return asked == 2 }) {
		t.Fatalf("the last ask was not made (%d asks)", asked)
	}
}
