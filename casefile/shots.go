package casefile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strings"

	"pilmon/browser"
)

// Screenshots in the report are not inlined into its HTML: the HTML names each by its SHA-256
// under browser.ReportOrigin and Chromium asks for it while it lays the page out (reportShots).
// What Chromium is given is a copy reduced to print resolution when the original has more
// pixels than its place on the page can show; the original stays in the bundle, untouched and
// hashed, and the report names it by its SHA-256 under the image.

// The box a screenshot may take on the page (img.shot in the template), in CSS pixels (96 per
// inch): 70 mm × 120 mm.
const (
	shotMaxW = 70 / 25.4 * 96
	shotMaxH = 120 / 25.4 * 96
	// shotDPI is the print resolution of a reduced copy: fine enough to read an app's text on
	// paper, a fraction of a phone screenshot's pixels.
	shotDPI = 200
	// maxShotDecoded bounds the memory of decoding one screenshot to reduce it (a small PNG
	// can declare a huge image); a larger one is listed by hash, not shown.
	maxShotDecoded = 48 << 20
)

var errShotTooLarge = errors.New("screenshot too large to reproduce")

// shotLayout is where a screenshot of w×h pixels goes: its box on the page (CSS pixels: the
// original's size, shrunk to fit shotMaxW × shotMaxH) and the pixels of the copy printed there
// (the box at shotDPI, never more than the original has).
func shotLayout(w, h int) (boxW, boxH, pxW, pxH int) {
	s := min(1, shotMaxW/float64(w), shotMaxH/float64(h))
	boxW, boxH = max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))
	r := min(1, s*shotDPI/96)
	pxW, pxH = max(1, int(math.Round(float64(w)*r))), max(1, int(math.Round(float64(h)*r)))
	return boxW, boxH, pxW, pxH
}

// decodedSize estimates what decoding an image of this configuration takes: png.Decode makes
// one pixel buffer of the image's colour model.
func decodedSize(c image.Config) int64 {
	bpp := int64(4)
	switch c.ColorModel {
	case color.GrayModel:
		bpp = 1
	case color.Gray16Model:
		bpp = 2
	case color.RGBA64Model, color.NRGBA64Model:
		bpp = 8
	}
	if _, ok := c.ColorModel.(color.Palette); ok {
		bpp = 1
	}
	return int64(c.Width) * int64(c.Height) * bpp
}

// shotConfig reads a PNG's header and lays it out, refusing what cannot be shown: not a PNG, or
// an image whose decoding would exceed maxShotDecoded.
func shotConfig(r io.Reader) (shot, error) {
	c, err := png.DecodeConfig(r)
	if err != nil {
		return shot{}, err
	}
	if c.Width <= 0 || c.Height <= 0 {
		return shot{}, errors.New("empty image")
	}
	if decodedSize(c) > maxShotDecoded {
		return shot{}, fmt.Errorf("%d×%d pixels: %w", c.Width, c.Height, errShotTooLarge)
	}
	s := shot{W: c.Width, H: c.Height}
	s.BoxW, s.BoxH, s.PxW, s.PxH = shotLayout(c.Width, c.Height)
	s.Reduced = s.PxW < c.Width || s.PxH < c.Height
	return s, nil
}

// shotFor reads a PNG artifact's header: the report shows it in the box shotConfig gives.
func (j *job) shotFor(h string) (shot, error) {
	rc, _, err := j.ev.Get(h)
	if err != nil {
		return shot{}, err
	}
	defer rc.Close()
	s, err := shotConfig(io.LimitReader(rc, maxScreenshotBytes))
	if err != nil {
		return shot{}, fmt.Errorf("evidence %s: not a PNG the report can show: %w", h, err)
	}
	s.SHA256 = h
	s.URI = shotURL(h)
	return s, nil
}

func shotURL(h string) string { return browser.ReportOrigin + "shot/" + h + ".png" }

// reportShots serves the report's screenshots to Chromium (browser.PDFOptions.Resources): only
// those the report shows, read through the store's verifying reader, reduced where the layout
// says so. A blob that no longer matches its hash is refused like any unreadable one.
func (j *job) reportShots(shown map[string]bool) func(ctx context.Context, path string) ([]byte, string, error) {
	return func(ctx context.Context, path string) ([]byte, string, error) {
		h, ok := strings.CutSuffix(strings.TrimPrefix(path, "shot/"), ".png")
		if !ok || !strings.HasPrefix(path, "shot/") || !shown[h] {
			return nil, "", fmt.Errorf("casefile: report asked for %q, which it does not show", path)
		}
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		rc, _, err := j.ev.Get(h)
		if err != nil {
			return nil, "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxScreenshotBytes+1))
		if err != nil {
			return nil, "", fmt.Errorf("evidence %s: %w", h, err)
		}
		if len(b) > maxScreenshotBytes {
			return nil, "", fmt.Errorf("evidence %s: larger than %d bytes", h, maxScreenshotBytes)
		}
		out, err := printCopy(b)
		if err != nil {
			return nil, "", fmt.Errorf("evidence %s: %w", h, err)
		}
		return out, "image/png", nil
	}
}

// printCopy returns the PNG to print for a screenshot: the original when it has no more pixels
// than its box at shotDPI, else a copy reduced to that (shotLayout).
func printCopy(b []byte) ([]byte, error) {
	s, err := shotConfig(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if !s.Reduced {
		return b, nil
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := png.Encode(&out, reduce(img, s.PxW, s.PxH)); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// reduce shrinks src to w×h by averaging the source pixels each destination pixel covers (a box
// filter: every source pixel counts, so thin lines of text fade instead of vanishing). Colours
// are averaged premultiplied, so transparent pixels do not darken their neighbours.
func reduce(src image.Image, w, h int) *image.NRGBA {
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	nrgba, _ := src.(*image.NRGBA)
	rgba, _ := src.(*image.RGBA)
	for y := range h {
		y0, y1 := y*sh/h, max((y+1)*sh/h, y*sh/h+1)
		for x := range w {
			x0, x1 := x*sw/w, max((x+1)*sw/w, x*sw/w+1)
			var r, g, bl, a uint64
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					var cr, cg, cb, ca uint32
					switch {
					case nrgba != nil:
						p := nrgba.Pix[nrgba.PixOffset(b.Min.X+sx, b.Min.Y+sy):]
						ca = uint32(p[3]) * 0x101
						cr, cg, cb = uint32(p[0])*ca/0xff, uint32(p[1])*ca/0xff, uint32(p[2])*ca/0xff
					case rgba != nil:
						p := rgba.Pix[rgba.PixOffset(b.Min.X+sx, b.Min.Y+sy):]
						cr, cg, cb, ca = uint32(p[0])*0x101, uint32(p[1])*0x101, uint32(p[2])*0x101, uint32(p[3])*0x101
					default:
						cr, cg, cb, ca = src.At(b.Min.X+sx, b.Min.Y+sy).RGBA()
					}
					r, g, bl, a = r+uint64(cr), g+uint64(cg), bl+uint64(cb), a+uint64(ca)
				}
			}
			if a == 0 {
				continue
			}
			n := uint64((y1 - y0) * (x1 - x0))
			p := dst.Pix[dst.PixOffset(x, y):]
			// Un-premultiply: colour/alpha, each a 16-bit sum over the same n pixels.
			p[0], p[1], p[2] = uint8(r*0xff/a), uint8(g*0xff/a), uint8(bl*0xff/a)
			p[3] = uint8(a / n >> 8)
		}
	}
	return dst
}

// shotsShown are the screenshots a report volume shows, which are all that reportShots serves.
func shotsShown(fs []findingView) map[string]bool {
	m := map[string]bool{}
	for _, f := range fs {
		for _, s := range f.Screenshots {
			m[s.SHA256] = true
		}
	}
	return m
}
