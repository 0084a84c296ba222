package policies

import (
	"strings"
	"testing"

	"pilmon/rules"
)

// A derived SDK whose name is one plain word is declared by its packages only; a hand-written
// entry of the same name, and a derived one with a brand-cased or multi-word name, by its name.
func TestDerivedPlainWordNames(t *testing.T) {
	for name, want := range map[string]bool{"Payment": true, "Smart": true, "AppsFlyer": false, "Google Analytics": false, "Mob360": false, "友盟反馈": false} {
		if got := plainWord(name); got != want {
			t.Errorf("plainWord(%q) = %v, want %v", name, got, want)
		}
	}
	mk := func(id, name, origin string) rules.SDK {
		return rules.SDK{ID: id, Name: rules.Text{ZH: name, EN: name}, Origin: origin, ClassPrefixes: []string{"com.example." + id}}
	}
	sdks := []rules.SDK{
		mk("payment", "Payment", rules.OriginDerived),
		mk("payment_hand", "Payment", rules.OriginCatalogue),
		mk("google_analytics", "Google Analytics", rules.OriginDerived),
		mk("umeng_fb", "友盟反馈", rules.OriginDerived),
	}
	text := "Payment information is handled by our provider. We use Google Analytics. 第三方SDK：友盟反馈。包名 com.example.payment。"
	var sents []sentence
	for _, s := range splitSentences(text) {
		sents = append(sents, sentence{orig: s, text: s, lower: strings.ToLower(s)})
	}
	got := map[string]string{}
	for _, d := range declaredSDKs(sents, text, strings.ToLower(text), newGramSet(strings.ToLower(text)), sdks, nil) {
		got[d.SDK] = d.Quote
	}
	for id, want := range map[string]string{"payment": "com.example.payment", "payment_hand": "Payment information", "google_analytics": "Google Analytics", "umeng_fb": "友盟反馈"} {
		if !strings.Contains(got[id], want) {
			t.Errorf("%s declared by %q, want a quote with %q", id, got[id], want)
		}
	}
	// without its package in the text, the derived "Payment" is not declared by the word
	text = strings.ReplaceAll(text, "包名 com.example.payment。", "")
	sents = sents[:0]
	for _, s := range splitSentences(text) {
		sents = append(sents, sentence{orig: s, text: s, lower: strings.ToLower(s)})
	}
	for _, d := range declaredSDKs(sents, text, strings.ToLower(text), newGramSet(strings.ToLower(text)), sdks, nil) {
		if d.SDK == "payment" {
			t.Errorf("derived plain-word SDK declared by the ordinary word: %q", d.Quote)
		}
	}
}
