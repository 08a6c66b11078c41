package errkind

import (
	"errors"
	"fmt"
	"testing"
)

func TestPartial(t *testing.T) {
	base := errors.New("2 classes below target")
	p := Partial(base)
	wrapped := fmt.Errorf("gather: %w", p)
	joined := errors.Join(fmt.Errorf("other: %w", errors.New("x")), wrapped)
	for name, err := range map[string]error{"bare": p, "wrapped": wrapped, "joined": joined} {
		if !IsPartial(err) {
			t.Errorf("%s: IsPartial = false", name)
		}
	}
	if !errors.Is(wrapped, base) || wrapped.Error() != "gather: 2 classes below target" {
		t.Errorf("Partial changed the error: %v", wrapped)
	}
	// Pending work is not a failure kind: retry loops must not see it.
	if KindOf(p) != KindPermanent || IsFatal(p) || IsRetryable(p) {
		t.Errorf("Partial has kind %v", KindOf(p))
	}
	if IsPartial(base) || IsPartial(Fatal(base)) || IsPartial(nil) || Partial(nil) != nil {
		t.Error("IsPartial holds for an error that was not marked")
	}
}
