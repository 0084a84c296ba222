package hooklog

import (
	"archive/zip"
	"fmt"
	"io"
	"pilmon/hooklog/xls"

	"github.com/xuri/excelize/v2"
)

// workbook is what the spreadsheet formats need of a file: its sheet names and its rows in order.
// Rows calls fn with the 0-based row index and the row's cells as text; fn's error stops it and is
// returned. The legacy .xls reader (package hooklog/xls) and the .xlsx reader below both give it.
type workbook interface {
	Sheets() []string
	Rows(sheet string, fn func(row int, cells []string) error) error
}

// openXLS opens a legacy BIFF8 .xls workbook (camille and PrivacySentry write them).
//
// openXLS reads a legacy BIFF8 workbook (camille's xlwt, PrivacySentry's JExcelApi) with the
// bounded reader of hooklog/xls. Its cell limit stays at the reader's default (a camille stack
// cell holds up to 32,767 characters): cells are cut to MaxCellBytes when events are built.
func openXLS(r io.ReaderAt, size int64, name string, lim Limits) (workbook, error) {
	rows := lim.MaxRows
	if rows <= 0 || rows > 65536 {
		rows = 65536 // BIFF8's own limit
	}
	wb, err := xls.Open(r, size, name, xls.Limits{MaxRows: rows})
	if err != nil {
		return nil, err
	}
	return wb, nil
}

// xlsxBook reads an .xlsx through excelize with its unzip limits set; excelize's row iterator
// streams a sheet's XML (to a temporary file beyond UnzipXMLSizeLimit) rather than holding it.
type xlsxBook struct {
	f   *excelize.File
	lim Limits
}

// xlsxEntryLimit bounds the entries of an .xlsx: a workbook of a hook log has a few dozen.
const xlsxEntryLimit = 10_000

// openXLSX checks the zip directory (entry count, declared sizes within MaxUnzipBytes: archive/zip
// refuses an entry that inflates beyond its declared size) and opens it with excelize.
func openXLSX(r io.ReaderAt, size int64, lim Limits) (wb *xlsxBook, err error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a readable zip archive: %v", err)
	}
	if len(zr.File) > xlsxEntryLimit {
		return nil, fmt.Errorf("zip archive has %d entries, more than the %d accepted", len(zr.File), xlsxEntryLimit)
	}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
		if total > uint64(lim.MaxUnzipBytes) {
			return nil, fmt.Errorf("unpacks to more than %d bytes (a zip bomb, or a workbook too large)", lim.MaxUnzipBytes)
		}
	}
	defer func() {
		// excelize is third-party code parsing hostile XML: a panic in it is this file's error.
		if p := recover(); p != nil {
			wb, err = nil, fmt.Errorf("the .xlsx reader failed on this file (%v)", p)
		}
	}()
	f, err := excelize.OpenReader(io.NewSectionReader(r, 0, size), excelize.Options{
		UnzipSizeLimit: lim.MaxUnzipBytes, UnzipXMLSizeLimit: min(lim.MaxUnzipBytes, 16<<20)})
	if err != nil {
		return nil, fmt.Errorf("not a readable .xlsx workbook: %v", err)
	}
	return &xlsxBook{f: f, lim: lim}, nil
}

func (x *xlsxBook) Close() error { return x.f.Close() }

func (x *xlsxBook) Sheets() []string { return x.f.GetSheetList() }

func (x *xlsxBook) Rows(sheet string, fn func(row int, cells []string) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the .xlsx reader failed on sheet %q (%v)", sheet, p)
		}
	}()
	rows, err := x.f.Rows(sheet)
	if err != nil {
		return fmt.Errorf("sheet %q: %v", sheet, err)
	}
	defer rows.Close()
	for i := 0; rows.Next(); i++ {
		if i >= x.lim.MaxRows {
			return fmt.Errorf("sheet %q has more than %d rows; the rest are not read", sheet, x.lim.MaxRows)
		}
		cells, err := rows.Columns()
		if err != nil {
			return fmt.Errorf("sheet %q row %d: %v", sheet, i+1, err)
		}
		if err := fn(i, cells); err != nil {
			return err
		}
	}
	if err := rows.Error(); err != nil {
		return fmt.Errorf("sheet %q: %v", sheet, err)
	}
	return nil
}

// memBook is a workbook held in memory (tests, and the row logic's fuzz targets).
type memBook struct {
	names  []string
	sheets map[string][][]string
}

func (m *memBook) Sheets() []string { return m.names }

func (m *memBook) Rows(sheet string, fn func(int, []string) error) error {
	rows, ok := m.sheets[sheet]
	if !ok {
		return fmt.Errorf("no sheet %q", sheet)
	}
	for i, r := range rows {
		if err := fn(i, r); err != nil {
			return err
		}
	}
	return nil
}
