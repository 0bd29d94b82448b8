package kapso

import (
	"strings"
	"testing"
)

func TestIsBSUID(t *testing.T) {
	tests := []struct {
		s             string
		bsuid, parent bool
	}{
		{"US.13491208655302741918", true, false},
		{"US.ENT.11815799212886844830", true, true},
		{"BR.77210938475610293847", true, false},
		{"BR.abcXYZ019", true, false},
		{"US.A", true, false},
		{"US." + strings.Repeat("9", 128), true, false},
		{"US.ENT." + strings.Repeat("9", 128), true, true},
		{"US.ENT", true, false}, // "ENT" is itself a valid ID
		{"US." + strings.Repeat("9", 129), false, false},
		{"US.", false, false},
		{"US.ENT.", false, false},
		{"us.13491208655302741918", false, false},
		{"USA.13491208655302741918", false, false},
		{"U.13491208655302741918", false, false},
		{"US-13491208655302741918", false, false},
		{"US.1349-1208", false, false},
		{"US.ent.1181", false, false},
		{" US.1349", false, false},
		{"US.1349\n", false, false},
		{"US.ENT.ENT.1", false, false},
		{"16505551234", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		if got := IsBSUID(tt.s); got != tt.bsuid {
			t.Errorf("IsBSUID(%q) = %v, want %v", tt.s, got, tt.bsuid)
		}
		if got := isParentBSUID(tt.s); got != tt.parent {
			t.Errorf("IsParentBSUID(%q) = %v, want %v", tt.s, got, tt.parent)
		}
	}
}
