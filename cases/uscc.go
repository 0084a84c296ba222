package cases

import (
	"fmt"
	"strings"
)

// usccChars are the 31 characters of a 统一社会信用代码 in the order of their values (GB 32100-2015:
// the digits and the capital letters without I, O, Z, S, V).
const usccChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// usccWeights are the weights of positions 1-17 (3^(i-1) mod 31).
var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// CheckUSCC validates a 统一社会信用代码: 18 characters of the code's alphabet, the 18th the check
// character of the first 17 (GB 32100-2015, §4 and annex: C18 = 31 − Σ(Ci·Wi) mod 31, 31 → 0).
// The registration authority and organisation codes are not checked against their tables: a code
// that passes is well formed, not proven registered.
func CheckUSCC(code string) error {
	if len(code) != 18 {
		return fmt.Errorf("统一社会信用代码 %.40q: want 18 characters, got %d", code, len(code))
	}
	sum := 0
	for i := range 17 {
		v := strings.IndexByte(usccChars, code[i])
		if v < 0 {
			return fmt.Errorf("统一社会信用代码 %.40q: character %d (%q) is not allowed (I, O, Z, S, V and lower case are not used)", code, i+1, code[i])
		}
		sum += v * usccWeights[i]
	}
	want := usccChars[(31-sum%31)%31]
	if code[17] != want {
		return fmt.Errorf("统一社会信用代码 %.40q: check character is %q, want %q (mistyped?)", code, code[17], want)
	}
	return nil
}
