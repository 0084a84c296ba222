package scanner

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// TreeFile is one regular file of a source folder: its slash-separated path inside the folder
// and its content.
type TreeFile struct {
	Name string
	Data []byte
}

// ReadTree reads the regular files of a source folder within the bounds of spec. Symlinks are
// never followed (they are reported), and all reads go through an os.Root so nothing outside dir
// is opened. Files are returned sorted by path; what could not be read is reported, not fatal.
func ReadTree(ctx context.Context, dir string, spec TreeSpec) ([]TreeFile, []FileError, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	fsys := root.FS()
	var files []TreeFile
	var problems []FileError
	var total int64
	errStop := errors.New("stop")
	at := func(p string) string { return path.Join(filepath.ToSlash(dir), p) }
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			problems = append(problems, FileError{Path: at(p), Reason: reasonOf(err)})
			return nil
		}
		if ctx.Err() != nil {
			problems = append(problems, FileError{Path: dir, Reason: ctx.Err().Error()})
			return errStop
		}
		if d.IsDir() {
			if p != "." && slices.Contains(spec.SkipDirs, d.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			problems = append(problems, FileError{Path: at(p), Reason: "symlink not followed"})
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if spec.MaxFiles > 0 && len(files) >= spec.MaxFiles {
			problems = append(problems, Errorf(dir, "more than %d files, the rest were not read", spec.MaxFiles))
			return errStop
		}
		info, err := d.Info()
		if err != nil {
			problems = append(problems, FileError{Path: at(p), Reason: reasonOf(err)})
			return nil
		}
		if spec.MaxFileBytes > 0 && info.Size() > spec.MaxFileBytes {
			problems = append(problems, Errorf(at(p), "%d bytes, over the %d-byte limit per file, skipped", info.Size(), spec.MaxFileBytes))
			return nil
		}
		if spec.MaxTotalBytes > 0 && total+info.Size() > spec.MaxTotalBytes {
			problems = append(problems, Errorf(dir, "the folder exceeds %d bytes, the rest was not read", spec.MaxTotalBytes))
			return errStop
		}
		f, err := fsys.Open(p)
		if err != nil {
			problems = append(problems, FileError{Path: at(p), Reason: reasonOf(err)})
			return nil
		}
		limit := spec.MaxFileBytes
		if limit <= 0 {
			limit = info.Size()
		}
		data, err := io.ReadAll(io.LimitReader(f, limit+1))
		f.Close()
		if err != nil {
			problems = append(problems, FileError{Path: at(p), Reason: reasonOf(err)})
			return nil
		}
		if int64(len(data)) > limit {
			problems = append(problems, Errorf(at(p), "grew past the per-file limit, skipped"))
			return nil
		}
		total += int64(len(data))
		files = append(files, TreeFile{Name: p, Data: data})
		return nil
	})
	if err != nil && err != errStop {
		return files, problems, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, problems, nil
}

// TreeArchive is the deterministic zip a folder is stored as: files in the given (sorted) order,
// stored uncompressed with a fixed timestamp, so identical folders give identical bytes.
func TreeArchive(files []TreeFile) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fixed := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		name := strings.TrimPrefix(filepath.ToSlash(f.Name), "/")
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: fixed})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	return buf.Bytes(), nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
