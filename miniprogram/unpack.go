package miniprogram

import (
	"errors"
	"fmt"
	"os"
	"path"
)

// Unpack writes the package's files under targetDir and returns the relative paths written. Names
// are checked again with CleanName (a Package built by hand may hold anything), and every write
// goes through an os.Root opened on targetDir, so neither a name nor a symlink already inside the
// folder can lead outside it. Existing files are never overwritten. Refused entries are reported in
// the returned error (one line each) while the others are still written.
func Unpack(pkg *Package, targetDir string) ([]string, error) {
	if pkg == nil {
		return nil, errors.New("nil package")
	}
	if err := os.MkdirAll(targetDir, 0o755); err != nil {
		return nil, fmt.Errorf("unpack: %w", err)
	}
	root, err := os.OpenRoot(targetDir)
	if err != nil {
		return nil, fmt.Errorf("unpack: %w", err)
	}
	defer root.Close()
	var written []string
	var errs []error
	for _, f := range pkg.Files {
		name, err := CleanName(f.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("refused %q: %w", f.Name, err))
			continue
		}
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				errs = append(errs, fmt.Errorf("refused %q: %w", f.Name, err))
				continue
			}
		}
		out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			errs = append(errs, fmt.Errorf("refused %q: %w", f.Name, err))
			continue
		}
		_, werr := out.Write(f.Data)
		cerr := out.Close()
		if err := errors.Join(werr, cerr); err != nil {
			errs = append(errs, fmt.Errorf("writing %q: %w", f.Name, err))
			continue
		}
		written = append(written, name)
	}
	return written, errors.Join(errs...)
}
