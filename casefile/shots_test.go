package casefile

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"pilmon/evidence"
)

// phoneShot draws a 1080×2400 screenshot: a title bar, then alternating 4-pixel black and
// white stripes (text-like detail that a box filter turns into grey).
func phoneShot(t testing.TB) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 1080, 2400))
	for y := range 2400 {
		for x := range 1080 {
			c := color.NRGBA{255, 255, 255, 255}
			switch {
			case y < 200:
				c = color.NRGBA{30, 90, 200, 255}
			case (y/4)%2 == 0:
				c = color.NRGBA{0, 0, 0, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestShotLayout(t *testing.T) {
	for _, c := range []struct {
		w, h                 int
		boxW, boxH, pxW, pxH int
		reduced              bool
	}{
		{240, 160, 240, 160, 240, 160, false}, // fits its box: shown at its size, not reduced
		// 70 mm wide at 96 px/in is 265 px; at 200 dpi 551 px.
		{1080, 2400, 204, 454, 425, 945, true}, // a phone screenshot: the height binds
		{2000, 500, 265, 66, 551, 138, true},   // a wide one: the width binds
		{500, 20000, 11, 454, 24, 945, true},   // a full-page capture
		{1, 1, 1, 1, 1, 1, false},
	} {
		bw, bh, pw, ph := shotLayout(c.w, c.h)
		if bw != c.boxW || bh != c.boxH || pw != c.pxW || ph != c.pxH {
			t.Errorf("shotLayout(%d, %d) = box %d×%d, px %d×%d; want box %d×%d, px %d×%d", c.w, c.h, bw, bh, pw, ph, c.boxW, c.boxH, c.pxW, c.pxH)
		}
		if reduced := pw < c.w || ph < c.h; reduced != c.reduced {
			t.Errorf("shotLayout(%d, %d): reduced %v, want %v", c.w, c.h, reduced, c.reduced)
		}
	}
}

func TestReduceAverages(t *testing.T) {
	// A 4×2 image of black and white columns, half transparent on the right: each 2×2 block
	// averages to mid grey; transparent pixels do not darken their block.
	src := image.NewNRGBA(image.Rect(0, 0, 4, 2))
	for y := range 2 {
		src.SetNRGBA(0, y, color.NRGBA{0, 0, 0, 255})
		src.SetNRGBA(1, y, color.NRGBA{255, 255, 255, 255})
		src.SetNRGBA(2, y, color.NRGBA{200, 100, 50, 255})
		src.SetNRGBA(3, y, color.NRGBA{0, 0, 0, 0})
	}
	got := reduce(src, 2, 1)
	if c := got.NRGBAAt(0, 0); c.R < 126 || c.R > 128 || c.R != c.G || c.A != 255 {
		t.Errorf("black and white averaged to %v, want opaque grey 127", c)
	}
	if c := got.NRGBAAt(1, 0); c != (color.NRGBA{200, 100, 50, 127}) {
		t.Errorf("colour beside transparency averaged to %v, want its colour at half alpha", c)
	}
	// The generic path (a paletted image) gives what the NRGBA path gives.
	pal := image.NewPaletted(image.Rect(0, 0, 4, 2), color.Palette{color.NRGBA{0, 0, 0, 255}, color.NRGBA{255, 255, 255, 255}})
	for y := range 2 {
		pal.SetColorIndex(1, y, 1)
		pal.SetColorIndex(3, y, 1)
	}
	g1 := reduce(pal, 2, 1)
	if a, b := g1.NRGBAAt(0, 0), g1.NRGBAAt(1, 0); a != b || a.R < 126 || a.R > 128 {
		t.Errorf("paletted columns averaged to %v and %v, want equal greys", a, b)
	}
}

// hugePNG is a valid PNG header declaring w×h RGBA pixels, with no image data: what a decoding
// bomb looks like to DecodeConfig.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestPrintCopy(t *testing.T) {
	small := pngBytes(t)
	if got, err := printCopy(small); err != nil || !bytes.Equal(got, small) {
		t.Errorf("a screenshot that fits its box: err %v, want the original bytes", err)
	}
	got, err := printCopy(phoneShot(t))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 425 || b.Dy() != 945 {
		t.Errorf("reduced copy is %v, want 425×945", b)
	}
	// The stripes (4 px black, 4 px white) at 945/2400 average to grey; the title bar stays blue.
	if c := color.NRGBAModel.Convert(img.At(200, 600)).(color.NRGBA); c.R < 40 || c.R > 215 {
		t.Errorf("striped area reduced to %v, want a grey", c)
	}
	if c := color.NRGBAModel.Convert(img.At(200, 20)).(color.NRGBA); c != (color.NRGBA{30, 90, 200, 255}) {
		t.Errorf("title bar reduced to %v", c)
	}
	// A header declaring 20000×20000 RGBA pixels is refused before anything is decoded.
	if _, err := printCopy(hugePNG(20000, 20000)); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("decoding bomb: err %v, want too large", err)
	}
	if _, err := printCopy([]byte("GIF89a")); err == nil {
		t.Error("not a PNG: no error")
	}
}

// TestReportShots serves only the screenshots the report shows, reduced, and refuses a blob
// that no longer matches its hash.
func TestReportShots(t *testing.T) {
	dir := t.TempDir()
	ev, err := evidence.Open(dir, evidence.Options{Tool: "test"})
	if err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) string {
		ref, err := ev.Put(bytes.NewReader(b), evidence.Meta{CapturedAt: time.Now(), Method: "browser_screenshot", Source: "https://example.cn/", MediaType: "image/png"})
		if err != nil {
			t.Fatal(err)
		}
		return ref.SHA256
	}
	big, other := put(phoneShot(t)), put(pngBytes(t))
	j := &job{ev: ev}
	s, err := j.shotFor(big)
	if err != nil || !s.Reduced || s.W != 1080 || s.PxW != 425 || s.URI != shotURL(big) {
		t.Fatalf("shotFor: %+v, %v", s, err)
	}
	serve := j.reportShots(map[string]bool{big: true})
	body, mt, err := serve(context.Background(), "shot/"+big+".png")
	if err != nil || mt != "image/png" {
		t.Fatal(err, mt)
	}
	if c, err := png.DecodeConfig(bytes.NewReader(body)); err != nil || c.Width != 425 {
		t.Errorf("served %v, %v; want the 425 px copy", c, err)
	}
	for _, p := range []string{"shot/" + other + ".png", "shot/" + big, "x/" + big + ".png", "shot/../" + big + ".png"} {
		if _, _, err := serve(context.Background(), p); err == nil {
			t.Errorf("%q served", p)
		}
	}
	if _, err := j.shotFor(strings.Repeat("0", 64)); err == nil {
		t.Error("shotFor of a missing artifact: no error")
	}
}

// FuzzPrintCopy: a hostile PNG never panics, and what comes back is a PNG no larger than its box.
func FuzzPrintCopy(f *testing.F) {
	f.Add(pngBytes(f))
	f.Add(hugePNG(20000, 20000))
	f.Add(hugePNG(600, 600))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	var b bytes.Buffer
	_ = png.Encode(&b, image.NewGray(image.Rect(0, 0, 700, 3)))
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := printCopy(data)
		if err != nil {
			return
		}
		c, err := png.DecodeConfig(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("printCopy returned no PNG: %v", err)
		}
		if !bytes.Equal(out, data) && (float64(c.Width) > shotMaxW*shotDPI/96+1 || float64(c.Height) > shotMaxH*shotDPI/96+1) {
			t.Fatalf("reduced copy %d×%d is larger than its box at %d dpi", c.Width, c.Height, shotDPI)
		}
	})
}
