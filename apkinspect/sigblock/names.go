package sigblock

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// pkixRDN decodes a Name that x509 refused as a whole.
type pkixRDN pkix.RDNSequence

func (r pkixRDN) String() string {
	seq := pkix.RDNSequence(r)
	var n pkix.Name
	n.FillFromRDNSequence(&seq)
	s := n.String()
	if s == "" && len(seq) > 0 {
		return fmt.Sprint(seq)
	}
	return s
}

var _ = asn1.ObjectIdentifier{}
