package bridgeevents

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// The Standard Webhooks specification's own test vector.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheSpecificationsVector(t *testing.T) {
	key, err := Secret(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := Sign(key, specID, time.Unix(specTimestamp, 0), []byte(specBody)); got != specSignature {
		t.Fatalf("Sign = %s, want %s", got, specSignature)
	}
}

func TestVerify(t *testing.T) {
	key, _ := Secret(specSecret)
	at := time.Unix(specTimestamp, 0)
	headers := func(id, ts, sig string) http.Header {
		h := http.Header{}
		for k, v := range map[string]string{HeaderID: id, HeaderTimestamp: ts, HeaderSignature: sig} {
			if v != "" {
				h.Set(k, v)
			}
		}
		return h
	}
	ts := strconv.Itoa(specTimestamp)
	tests := []struct {
		name string
		h    http.Header
		body string
		now  time.Time
		want error
	}{
		{"the vector", headers(specID, ts, specSignature), specBody, at, nil},
		{"within tolerance", headers(specID, ts, specSignature), specBody, at.Add(Tolerance), nil},
		{"one of several signatures", headers(specID, ts, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc "+specSignature), specBody, at, nil},
		{"another body", headers(specID, ts, specSignature), `{"test": 2432232315}`, at, ErrBadSignature},
		{"another id", headers("msg_other", ts, specSignature), specBody, at, ErrBadSignature},
		{"a signature of another version", headers(specID, ts, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), specBody, at, ErrBadSignature},
		{"too old", headers(specID, ts, specSignature), specBody, at.Add(Tolerance + time.Second), ErrBadTimestamp},
		{"from the future", headers(specID, ts, specSignature), specBody, at.Add(-Tolerance - time.Second), ErrBadTimestamp},
		{"timestamp not a number", headers(specID, "soon", specSignature), specBody, at, ErrBadTimestamp},
		{"no id", headers("", ts, specSignature), specBody, at, ErrNoSignature},
		{"no timestamp", headers(specID, "", specSignature), specBody, at, ErrNoSignature},
		{"no signature", headers(specID, ts, ""), specBody, at, ErrNoSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(key, tt.h, []byte(tt.body), tt.now); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSecret(t *testing.T) {
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, err := Secret(s)
	if err != nil || len(key) != 32 {
		t.Fatalf("NewSecret %q reads as %d bytes, %v", s, len(key), err)
	}
	other, _ := NewSecret()
	if other == s {
		t.Fatal("two secrets alike")
	}
	for _, bad := range []string{"", "whsec_", "whsec_!!!", "whsec_c2hvcnQ="} {
		if _, err := Secret(bad); !errors.Is(err, ErrBadSecret) {
			t.Errorf("Secret(%q) = %v, want ErrBadSecret", bad, err)
		}
	}
}
