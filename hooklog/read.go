package hooklog

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"pilmon/rules"
)

// Options of Read.
type Options struct {
	Limits Limits
	// AppPackage is the app's package (the target's APK); the session line of a pilmon log gives it
	// when this is empty. Without one, code outside the catalogued SDKs and libraries is
	// "unidentified", never "app".
	AppPackage string
}

// cfbMagic starts a Compound File (the container of a legacy .xls).
var cfbMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// sniffLen is how much of the start decides a text format.
const sniffLen = 64 << 10

// Detect names the format of a hook log from its content: "" when it is none of them. A
// spreadsheet is decided by its sheet names, so a Compound File (.xls) is only named once the
// legacy reader is wired in.
func Detect(r io.ReaderAt, size int64, lim Limits) string {
	lim = lim.withDefaults()
	head := make([]byte, min(size, sniffLen))
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, cfbMagic):
		wb, err := openXLS(r, size, "", lim)
		if err != nil {
			return ""
		}
		return sheetFormat(wb.Sheets())
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		wb, err := openXLSX(r, size, lim)
		if err != nil {
			return ""
		}
		defer wb.Close()
		return sheetFormat(wb.Sheets())
	}
	return textFormat(head)
}

func textFormat(head []byte) string {
	switch {
	case looksLikePilmon(head):
		return FormatPilmon
	case looksLikeMonitor(head):
		return FormatPrivacyMonitor
	}
	return ""
}

// Read reads a hook log of any of the five formats, decided by content. The log holds everything
// read; the error (a *ReadError when rows or lines failed) says what was not, naming the rows. A
// nil log means nothing could be read.
func Read(r io.ReaderAt, size int64, name string, cat *rules.Catalogue, opts Options) (*Log, error) {
	lim := opts.Limits.withDefaults()
	head := make([]byte, min(size, sniffLen))
	n, err := r.ReadAt(head, 0)
	if n < len(head) && err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	head = head[:n]
	var b *builder
	switch {
	case bytes.HasPrefix(head, cfbMagic):
		wb, err := openXLS(r, size, name, lim)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b, err = readBook(wb, name, lim)
		if err != nil {
			return nil, err
		}
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		wb, err := openXLSX(r, size, lim)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		defer wb.Close()
		b, err = readBook(wb, name, lim)
		if err != nil {
			return nil, err
		}
	default:
		sr := io.NewSectionReader(r, 0, size)
		switch textFormat(head) {
		case FormatPilmon:
			b = newBuilder(name, FormatPilmon, lim)
			readPilmon(sr, b)
		case FormatPrivacyMonitor:
			b = newBuilder(name, FormatPrivacyMonitor, lim)
			readMonitor(sr, b)
		default:
			return nil, fmt.Errorf("%s: not a hook log (no pilmon JSON Lines session or call line, no AndroidPrivacyMonitor 🚨 header or STACK_START marker, not a spreadsheet)", name)
		}
	}
	return finish(b, cat, opts)
}

// finish maps and attributes the calls once a reader is done.
func finish(b *builder, cat *rules.Catalogue, opts Options) (*Log, error) {
	app := opts.AppPackage
	if app == "" {
		app = b.log.Package
	}
	newResolver(cat, app).resolve(b.log)
	return b.log, b.err()
}

// readWorkbook reads an opened workbook (the unit tests' and fuzz targets' entry to the sheet logic).
func readWorkbook(wb workbook, name string, cat *rules.Catalogue, opts Options) (*Log, error) {
	b, err := readBook(wb, name, opts.Limits.withDefaults())
	if err != nil {
		return nil, err
	}
	return finish(b, cat, opts)
}

// readBook reads a workbook of camille, PrivacySentry or AppScan.
func readBook(wb workbook, name string, lim Limits) (*builder, error) {
	format := sheetFormat(wb.Sheets())
	if format == "" {
		return nil, fmt.Errorf("%s: a workbook without the sheets of a hook log (%s, %s, %s or %s); its sheets: %q",
			name, camilleSheet, sentrySheet, appscanSheet, appscanRiskSheet+"/"+appscanRiskSheetAlt, firstN(wb.Sheets(), 10))
	}
	b := newBuilder(name, format, lim)
	switch format {
	case FormatCamille:
		readCamille(wb, b)
	case FormatPrivacySentry:
		readPrivacySentry(wb, b)
	case FormatAppScan:
		readAppScan(wb, b)
	}
	return b, nil
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
