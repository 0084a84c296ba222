package web

import (
	"fmt"
	"slices"
	"time"

	"pilmon/scanner"
	"pilmon/store"
)

// appIdentity is what the latest scan that read the app says it is: package, version, label,
// signing certificates, and where the scanned copy came from.
type appIdentity struct {
	ScanID      string
	At          time.Time
	Package     string
	Label       string
	VersionName string
	VersionCode string
	Signers     []signer
	// Source is the source the APK was read from (a store download names its URL; an upload or
	// a file its path on the server, shown as "uploaded" rather than the path).
	Source   scanner.Source
	Uploaded bool
	APK      string // SHA-256 of the scanned APK
	MiniApp  string // a mini-program's appid
}

type signer struct {
	Subject, SHA256 string
}

// identityOf reads the identity of the newest scan (scans are newest first) that recorded one.
func identityOf(scans []store.ScanRecord) *appIdentity {
	for _, sc := range scans {
		// A scan's record keeps every context observation (the inventory too): only one that read
		// a package or a mini-program names the app (an unchanged download re-reads nothing).
		if !slices.ContainsFunc(sc.Identity, func(o scanner.Observation) bool {
			return o.Kind == "apk.identity" || o.Kind == "apk.certificate" || o.Kind == "mp.identity"
		}) {
			continue
		}
		id := &appIdentity{ScanID: sc.ID, At: sc.StartedAt}
		for _, o := range sc.Identity {
			str := func(k string) string {
				switch v := o.Attributes[k].(type) {
				case string:
					return v
				case nil:
					return ""
				default:
					return fmt.Sprint(v)
				}
			}
			switch o.Kind {
			case "apk.identity":
				id.Package, id.Label, id.VersionName, id.VersionCode = str("package"), str("label"), str("version_name"), str("version_code")
				if len(o.EvidenceRefs) > 0 {
					id.APK = o.EvidenceRefs[0]
				}
			case "apk.certificate":
				id.Signers = append(id.Signers, signer{Subject: str("subject_dn"), SHA256: str("sha256")})
			case "mp.identity":
				id.MiniApp = str("appid")
			}
		}
		for _, r := range sc.Runs {
			if r.Inspector == "apkinspect" {
				id.Source = r.Source
				id.Uploaded = r.Source.Kind == scanner.SourceAPK
				if id.APK == "" && len(r.Evidence) > 0 {
					id.APK = r.Evidence[0]
				}
				break
			}
		}
		return id
	}
	return nil
}
