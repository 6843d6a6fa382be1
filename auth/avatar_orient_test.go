package auth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"testing"
	"time"
)

// The avatar orientation and size cases of issue 11: photos as phones
// write them (turned by an EXIF tag, big, long panoramas) come out upright,
// square and AvatarSize on a side, with no metadata left.

// The stored test image has one colour in each quadrant.
var (
	quadRed    = color.NRGBA{R: 255, A: 255}
	quadGreen  = color.NRGBA{G: 255, A: 255}
	quadBlue   = color.NRGBA{B: 255, A: 255}
	quadYellow = color.NRGBA{R: 255, G: 255, A: 255}
)

// corner is a quadrant: which end of the rows (top or bottom) and of the
// columns (left or right).
type corner struct{ vertical, horizontal string }

var storedColours = map[corner]color.NRGBA{
	{"top", "left"}: quadRed, {"top", "right"}: quadGreen,
	{"bottom", "left"}: quadBlue, {"bottom", "right"}: quadYellow,
}

// quadrants is a w×h image as stored in the file, coloured by
// storedColours.
func quadrants(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := corner{"top", "left"}
			if y >= h/2 {
				c.vertical = "bottom"
			}
			if x >= w/2 {
				c.horizontal = "right"
			}
			m.SetNRGBA(x, y, storedColours[c])
		}
	}
	return m
}

// exifSides is the EXIF specification's table for tag 0x0112, written
// out independently of orient: for each value, the side of the displayed
// image where the stored image's first row goes, and the side where its
// first column goes.
var exifSides = map[int][2]string{
	1: {"top", "left"}, 2: {"top", "right"}, 3: {"bottom", "right"}, 4: {"bottom", "left"},
	5: {"left", "top"}, 6: {"right", "top"}, 7: {"right", "bottom"}, 8: {"left", "bottom"},
}

var opposite = map[string]string{"top": "bottom", "bottom": "top", "left": "right", "right": "left"}

// displayedColours says which colour each displayed quadrant must have
// for an orientation: the stored quadrant at the first or last row and
// the first or last column is displayed at the corner where those sides
// meet.
func displayedColours(orientation int) map[corner]color.NRGBA {
	sides := exifSides[orientation]
	out := map[corner]color.NRGBA{}
	for stored, c := range storedColours {
		rowSide, colSide := sides[0], sides[1]
		if stored.vertical == "bottom" {
			rowSide = opposite[rowSide]
		}
		if stored.horizontal == "right" {
			colSide = opposite[colSide]
		}
		var d corner
		for _, s := range []string{rowSide, colSide} {
			if s == "top" || s == "bottom" {
				d.vertical = s
			} else {
				d.horizontal = s
			}
		}
		out[d] = c
	}
	return out
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// exifTIFF builds the TIFF structure of an EXIF block whose IFD0 holds
// Make, Orientation and, with gps, a pointer to a GPS IFD carrying a
// latitude reference and a processing method: what a phone writes, in
// miniature.
func exifTIFF(order byteOrder, orientation uint16, gps bool) []byte {
	type entry struct {
		tag, typ uint16
		count    uint32
		value    []byte // inline if four bytes or fewer
	}
	short := func(v uint16) []byte { return order.AppendUint16(nil, v) }
	ifd0 := []entry{
		{0x010f, 2, 14, []byte("PhoneMakerCo!\x00")}, // Make, ASCII
		{0x0112, 3, 1, short(orientation)},           // Orientation, SHORT
	}
	if gps {
		ifd0 = append(ifd0, entry{0x8825, 4, 1, nil}) // GPSInfo, LONG offset, patched below
	}
	b := []byte("MM\x00\x2a\x00\x00\x00\x08")
	if order == binary.LittleEndian {
		b = []byte("II\x2a\x00\x08\x00\x00\x00")
	}
	// IFD0 at 8, its out-of-line data after it, then the GPS IFD.
	dataAt := 8 + 2 + 12*len(ifd0) + 4
	var data []byte
	b = order.AppendUint16(b, uint16(len(ifd0)))
	gpsPatch := -1
	for _, e := range ifd0 {
		b = order.AppendUint16(b, e.tag)
		b = order.AppendUint16(b, e.typ)
		b = order.AppendUint32(b, e.count)
		switch {
		case e.tag == 0x8825:
			gpsPatch = len(b)
			b = append(b, 0, 0, 0, 0)
		case len(e.value) <= 4:
			b = append(b, append(e.value, make([]byte, 4-len(e.value))...)...)
		default:
			b = order.AppendUint32(b, uint32(dataAt+len(data)))
			data = append(data, e.value...)
		}
	}
	b = append(b, 0, 0, 0, 0) // no IFD1
	b = append(b, data...)
	if gps {
		order.PutUint32(b[gpsPatch:], uint32(len(b)))
		method := []byte("ASCII\x00\x00\x00SECRET-GPS-48.8584N-2.2945E")
		b = order.AppendUint16(b, 2)
		b = order.AppendUint16(b, 0x0001) // GPSLatitudeRef, ASCII "N"
		b = order.AppendUint16(b, 2)
		b = order.AppendUint32(b, 2)
		b = append(b, 'N', 0, 0, 0)
		b = order.AppendUint16(b, 0x001b) // GPSProcessingMethod, UNDEFINED
		b = order.AppendUint16(b, 7)
		b = order.AppendUint32(b, uint32(len(method)))
		b = order.AppendUint32(b, uint32(len(b)+4+4))
		b = append(b, 0, 0, 0, 0)
		b = append(b, method...)
	}
	return b
}

// jpegWithEXIF inserts an EXIF APP1 segment holding tiff after the SOI of
// a JPEG, behind an APP0 (JFIF) segment, as cameras and phones write it.
func jpegWithEXIF(tb testing.TB, b, tiff []byte) []byte {
	tb.Helper()
	if !bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
		tb.Fatal("not a JPEG")
	}
	app0 := []byte("\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
	payload := append(bytes.Clone(exifHeader), tiff...)
	app1 := binary.BigEndian.AppendUint16([]byte{0xff, 0xe1}, uint16(len(payload)+2))
	app1 = append(app1, payload...)
	out := append([]byte{0xff, 0xd8}, app0...)
	out = append(out, app1...)
	return append(out, b[2:]...)
}

// pngWithEXIF inserts an eXIf chunk holding tiff after a PNG's IHDR.
func pngWithEXIF(b, tiff []byte) []byte {
	const afterIHDR = 8 + 4 + 4 + 13 + 4
	out := append(bytes.Clone(b[:afterIHDR]), pngChunk("eXIf", tiff)...)
	return append(out, b[afterIHDR:]...)
}

// webpQuadrants is quadrants(64, 48) as a lossless WebP, made with
// libwebp's `cwebp -lossless -exact -z 9 -metadata none` (Go has no WebP
// encoder).
var webpQuadrants = []byte("\x52\x49\x46\x46\x28\x00\x00\x00\x57\x45\x42\x50\x56\x50\x38\x4c\x1b\x00\x00\x00\x2f\x3f\xc0\x0b\x00\x06\x21\x01\xe1\xff\x69\x59\x97\xe6\x7f\xfe\xfb\x3f\x01\x94\x4b\xfe\x6f\x98\x5b\xfe\x6f\x00")

// webpWithEXIF turns a simple lossless WebP into an extended one (VP8X)
// with an EXIF chunk holding tiff after the bitstream.
func webpWithEXIF(b, tiff []byte) []byte {
	bits := binary.LittleEndian.Uint32(b[21:])
	w, h := bits&0x3fff+1, bits>>14&0x3fff+1
	const exifFlag = 1 << 3
	vp8x := []byte{exifFlag, 0, 0, 0}
	vp8x = binary.LittleEndian.AppendUint32(vp8x, w-1)[:7]
	vp8x = binary.LittleEndian.AppendUint32(vp8x, h-1)[:10]
	return riffWebP(webpChunk("VP8X", vp8x), b[12:], webpChunk("EXIF", tiff))
}

// checkQuadrants samples the middle of each quadrant of a square m.
func checkQuadrants(t *testing.T, m image.Image, want map[corner]color.NRGBA) {
	t.Helper()
	n := m.Bounds().Dx()
	for c, w := range want {
		x, y := n/4, n/4
		if c.horizontal == "right" {
			x = 3 * n / 4
		}
		if c.vertical == "bottom" {
			y = 3 * n / 4
		}
		got := color.NRGBAModel.Convert(m.At(m.Bounds().Min.X+x, m.Bounds().Min.Y+y)).(color.NRGBA)
		if !near(got, w, 48) {
			t.Errorf("%s %s quadrant is %v, want %v", c.vertical, c.horizontal, got, w)
		}
	}
}

func near(a, b color.NRGBA, tolerance int) bool {
	d := func(x, y uint8) bool { return max(int(x)-int(y), int(y)-int(x)) <= tolerance }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}

func TestNormalizeAvatarOrientation(t *testing.T) {
	t.Parallel()
	// The stored images are wider than tall, so the crop, and for JPEG
	// and PNG the scaling, happen along with the turn.
	photo := quadrants(400, 300)
	jpegPhoto, pngPhoto := encodeJPEG(t, photo), encodePNG(t, photo)
	formats := []struct {
		name     string
		wantType string
		wantSide int
		build    func(tiff []byte) []byte
		order    byteOrder
	}{
		{"jpeg big-endian", "image/jpeg", AvatarSize, func(tiff []byte) []byte { return jpegWithEXIF(t, jpegPhoto, tiff) }, binary.BigEndian},
		{"jpeg little-endian", "image/jpeg", AvatarSize, func(tiff []byte) []byte { return jpegWithEXIF(t, jpegPhoto, tiff) }, binary.LittleEndian},
		{"png", "image/png", AvatarSize, func(tiff []byte) []byte { return pngWithEXIF(pngPhoto, tiff) }, binary.BigEndian},
		{"webp", "image/png", 48, func(tiff []byte) []byte { return webpWithEXIF(webpQuadrants, tiff) }, binary.LittleEndian},
	}
	for _, f := range formats {
		for o := 1; o <= 8; o++ {
			t.Run(fmt.Sprintf("%s/%d", f.name, o), func(t *testing.T) {
				t.Parallel()
				m := mustNormalize(t, f.build(exifTIFF(f.order, uint16(o), o%2 == 0)), f.wantType)
				if got := m.Bounds().Size(); got != image.Pt(f.wantSide, f.wantSide) {
					t.Fatalf("size %v, want %d square", got, f.wantSide)
				}
				checkQuadrants(t, m, displayedColours(o))
			})
		}
	}
	t.Run("no exif", func(t *testing.T) {
		t.Parallel()
		checkQuadrants(t, mustNormalize(t, jpegPhoto, "image/jpeg"), storedColours)
	})
	// The decoder must read these as they are, or the cases above could
	// pass by accident.
	t.Run("fixture", func(t *testing.T) {
		t.Parallel()
		m := mustNormalize(t, webpQuadrants, "image/png")
		checkQuadrants(t, m, storedColours)
	})
}

// TestAvatarOrientationReader feeds the tag reader what real files and
// broken ones hold.
func TestAvatarOrientationReader(t *testing.T) {
	t.Parallel()
	plain := encodeJPEG(t, quadrants(16, 16))
	be := exifTIFF(binary.BigEndian, 6, true)
	withTag := func(v uint16) []byte { return exifTIFF(binary.LittleEndian, v, false) }
	// A SOS marker before the EXIF segment: metadata after a scan is not
	// metadata.
	afterScan := append(bytes.Clone(plain[:len(plain)-2]), jpegWithEXIF(t, []byte{0xff, 0xd8}, be)[2:]...)
	longType := withTag(6)
	binary.LittleEndian.PutUint16(longType[8+2+12+2:], 4) // Orientation as LONG
	fill := jpegWithEXIF(t, plain, be)
	fill = append([]byte{0xff, 0xd8, 0xff, 0xff}, fill[2:]...) // fill bytes before APP0
	tests := []struct {
		name string
		f    *avatarFormat
		data []byte
		want int
	}{
		{"jpeg without exif", avatarJPEG, plain, 1},
		{"jpeg big-endian 6", avatarJPEG, jpegWithEXIF(t, plain, be), 6},
		{"jpeg fill bytes", avatarJPEG, fill, 6},
		{"jpeg exif after the scan", avatarJPEG, afterScan, 1},
		{"jpeg orientation 0", avatarJPEG, jpegWithEXIF(t, plain, withTag(0)), 1},
		{"jpeg orientation 9", avatarJPEG, jpegWithEXIF(t, plain, withTag(9)), 1},
		{"jpeg orientation as LONG", avatarJPEG, jpegWithEXIF(t, plain, longType), 1},
		{"jpeg tiff truncated in IFD0", avatarJPEG, jpegWithEXIF(t, plain, be[:8+2+12+6]), 1},
		{"jpeg tiff of a wrong magic", avatarJPEG, jpegWithEXIF(t, plain, append([]byte("MM\x00\x2b"), be[4:]...)), 1},
		{"jpeg IFD0 beyond the end", avatarJPEG, jpegWithEXIF(t, plain, append([]byte("MM\x00\x2a\xff\xff\xff\xf0"), be[8:]...)), 1},
		{"jpeg segment length past the end", avatarJPEG, []byte("\xff\xd8\xff\xe1\xff\xffExif\x00\x00MM"), 1},
		{"png eXIf 8", avatarPNG, pngWithEXIF(encodePNG(t, quadrants(4, 4)), withTag(8)), 8},
		{"png eXIf after IDAT", avatarPNG, func() []byte {
			b := encodePNG(t, quadrants(4, 4))
			iend := len(b) - 12
			return append(append(bytes.Clone(b[:iend]), pngChunk("eXIf", withTag(8))...), b[iend:]...)
		}(), 1},
		{"webp EXIF 3", avatarWebP, webpWithEXIF(webpQuadrants, withTag(3)), 3},
		{"webp EXIF with the JPEG header", avatarWebP, webpWithEXIF(webpQuadrants, append(bytes.Clone(exifHeader), withTag(5)...)), 5},
		{"webp without EXIF", avatarWebP, webpQuadrants, 1},
		{"gif", avatarGIF, encodeGIF(t, 4, 4, red), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := avatarOrientation(tt.f, tt.data); got != tt.want {
				t.Errorf("orientation %d, want %d", got, tt.want)
			}
		})
	}
}

func FuzzAvatarOrientation(f *testing.F) {
	plain := encodeJPEG(f, quadrants(8, 8))
	f.Add(jpegWithEXIF(f, plain, exifTIFF(binary.BigEndian, 6, true)))
	f.Add(pngWithEXIF(encodePNG(f, quadrants(4, 4)), exifTIFF(binary.LittleEndian, 8, true)))
	f.Add(webpWithEXIF(webpQuadrants, exifTIFF(binary.LittleEndian, 3, false)))
	f.Add(exifTIFF(binary.BigEndian, 2, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fm := range []*avatarFormat{avatarJPEG, avatarPNG, avatarWebP} {
			if o := avatarOrientation(fm, data); o < 1 || o > 8 {
				t.Fatalf("%s: orientation %d", fm.name, o)
			}
		}
		if o := tiffOrientation(data); o < 1 || o > 8 {
			t.Fatalf("tiff: orientation %d", o)
		}
	})
}

// flatJPEG is a w×h baseline greyscale JPEG of uniform mid-grey, built
// by hand: with one-symbol Huffman tables every 8×8 block codes in two
// zero bits, so a 40 MP image is 160 kB and costs nothing to make, while
// decoding it is the full work of any photo of that size.
func flatJPEG(w, h int) []byte {
	b := []byte{0xff, 0xd8}
	b = append(b, 0xff, 0xdb, 0, 67, 0) // DQT 0, all ones
	b = append(b, bytes.Repeat([]byte{1}, 64)...)
	b = append(b, 0xff, 0xc0, 0, 11, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 1, 1, 0x11, 0) // SOF0
	// DHT: DC table 0 and AC table 0, each one code "0": DC difference
	// category 0, and end of block.
	for _, class := range []byte{0x00, 0x10} {
		b = append(b, 0xff, 0xc4, 0, 20, class, 1)
		b = append(b, make([]byte, 15)...)
		b = append(b, 0)
	}
	b = append(b, 0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 63, 0) // SOS
	blocks := (w + 7) / 8 * ((h + 7) / 8)
	b = append(b, make([]byte, (2*blocks+7)/8)...)
	return append(b, 0xff, 0xd9)
}

// TestNormalizeAvatarSizes: what phones and cameras make is accepted up
// to the limits exactly and scaled to AvatarSize; one pixel or one byte
// more is refused, and a bomb before a pixel is allocated
// (TestNormalizeAvatarRefusesBeforeAllocating measures that).
func TestNormalizeAvatarSizes(t *testing.T) {
	t.Parallel()
	const w, h = MaxAvatarPixels, MaxAvatarArea / MaxAvatarPixels // 8000×5000
	// The limits are checked on the header, for every format alike.
	headers := []struct {
		name       string
		data       []byte
		acceptable bool
	}{
		{"png 8000x5000", pngHeader(w, h), true},
		{"png 5000x8000", pngHeader(h, w), true},
		{"png 8000x1", pngHeader(w, 1), true},
		{"png 8001x1", pngHeader(w+1, 1), false},
		{"png 1x8001", pngHeader(1, w+1), false},
		{"png 8000x5001", pngHeader(w, h+1), false},
		{"png 5001x8000", pngHeader(h+1, w), false},
		{"png 6325x6325", pngHeader(6325, 6325), false}, // 40,005,625 pixels, each side under 8000
		{"png 100000x100000", pngHeader(100000, 100000), false},
		{"jpeg 8000x5000", jpegClaiming(t, w, h), true},
		{"jpeg 8000x5001", jpegClaiming(t, w, h+1), false},
		{"gif 5000x8000", gifHeader(h, w), true},
		{"gif 5001x8000", gifHeader(h+1, w), false},
		{"webp 8000x5000", webpLosslessClaiming(w, h), true},
		{"webp 8000x5001", webpLosslessClaiming(w, h+1), false},
		{"webp canvas 5000x8000", webpCanvas(h, w, 0), true},
		{"webp canvas 5000x8001", webpCanvas(h, w+1, 0), false},
	}
	for _, tt := range headers {
		_, err := inspectAvatar(tt.data)
		switch {
		case tt.acceptable && err != nil:
			t.Errorf("%s: refused from the header: %v", tt.name, err)
		case !tt.acceptable && !errors.Is(err, ErrImageTooLarge):
			t.Errorf("%s: err = %v, want ErrImageTooLarge", tt.name, err)
		}
	}

	t.Run("jpeg 8000x5000 end to end", func(t *testing.T) {
		t.Parallel()
		m := mustNormalize(t, flatJPEG(w, h), "image/jpeg")
		if got := m.Bounds().Size(); got != image.Pt(AvatarSize, AvatarSize) {
			t.Errorf("size %v, want %d square", got, AvatarSize)
		}
		if got := color.GrayModel.Convert(m.At(AvatarSize/2, AvatarSize/2)).(color.Gray).Y; got < 120 || got > 136 {
			t.Errorf("centre grey %d, want 128", got)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		t.Parallel()
		b := flatJPEG(64, 64)
		b = append(b, make([]byte, MaxAvatarBytes-len(b))...) // after EOI: ignored
		mustNormalize(t, b, "image/jpeg")
		_, _, err := normalizeAvatar(append(b, 0))
		if !errors.Is(err, ErrImageTooLarge) {
			t.Errorf("MaxAvatarBytes+1: err = %v, want ErrImageTooLarge", err)
		}
	})

	// A panorama keeps its middle: the ends, in another colour, are cut.
	t.Run("tall panorama", func(t *testing.T) {
		t.Parallel()
		const pw, ph = 300, 2400
		m := image.NewNRGBA(image.Rect(0, 0, pw, ph))
		for y := range ph {
			c := quadRed
			if y >= (ph-pw)/2 && y < (ph+pw)/2 {
				c = quadBlue
			}
			for x := range pw {
				m.SetNRGBA(x, y, c)
			}
		}
		for _, data := range [][]byte{encodePNG(t, m), encodeJPEG(t, m)} {
			out, ct, err := normalizeAvatar(data)
			if err != nil {
				t.Fatal(err)
			}
			img, err := decoderFor(t, ct)(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Bounds().Size(); got != image.Pt(AvatarSize, AvatarSize) {
				t.Fatalf("%s: size %v, want %d square", ct, got, AvatarSize)
			}
			for _, p := range []image.Point{{0, 0}, {AvatarSize - 1, 0}, {AvatarSize / 2, AvatarSize / 2}, {0, AvatarSize - 1}, {AvatarSize - 1, AvatarSize - 1}} {
				if got := color.NRGBAModel.Convert(img.At(p.X, p.Y)).(color.NRGBA); !near(got, quadBlue, 48) {
					t.Errorf("%s: pixel %v is %v, want the panorama's middle, blue", ct, p, got)
				}
			}
		}
	})
}

// TestBoxShrink checks the plane averaging against the image it shrinks:
// on smooth gradients each output pixel is the colour at the centre of
// its block, for every chroma subsampling and an image whose bounds do
// not start at the origin.
func TestBoxShrink(t *testing.T) {
	t.Parallel()
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	const side = 3*2*AvatarSize + 5 // k = 3, with 5 left over
	bounds := image.Rect(7, 3, 7+side+40, 3+side)
	for _, ratio := range ratios {
		t.Run(ratio.String(), func(t *testing.T) {
			t.Parallel()
			m := image.NewYCbCr(bounds, ratio)
			for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
				for x := bounds.Min.X; x < bounds.Max.X; x++ {
					m.Y[m.YOffset(x, y)] = uint8(40 + x/16)
					c := m.COffset(x, y)
					m.Cb[c] = uint8(60 + y/16)
					m.Cr[c] = uint8(200 - (x+y)/32)
				}
			}
			r := image.Rect(27, 3, 27+side, 3+side) // the centred square
			small, sr := boxShrink(m, r)
			if got := sr.Size(); got != image.Pt(side/3, side/3) {
				t.Fatalf("shrunk to %v, want %d square", got, side/3)
			}
			for _, p := range []image.Point{{0, 0}, {100, 200}, {side/3 - 1, side/3 - 1}, {side / 3 / 2, 5}} {
				// Block p covers [3p, 3p+3) after the 2 columns and rows
				// that the leftover 5 puts before the first block.
				centre := r.Min.Add(image.Pt(2+3*p.X+1, 2+3*p.Y+1))
				want := color.RGBAModel.Convert(m.At(centre.X, centre.Y)).(color.RGBA)
				got := color.RGBAModel.Convert(small.At(sr.Min.X+p.X, sr.Min.Y+p.Y)).(color.RGBA)
				if !near(color.NRGBA(got), color.NRGBA(want), 4) {
					t.Errorf("block %v: %v, want %v (the source at %v)", p, got, want, centre)
				}
			}
		})
	}
	t.Run("gray", func(t *testing.T) {
		t.Parallel()
		m := image.NewGray(image.Rect(0, 0, 4*2*AvatarSize, 4*2*AvatarSize))
		for i := range m.Pix {
			m.Pix[i] = uint8(i % 4 * 60) // four columns' pattern averages to 90
		}
		small, sr := boxShrink(m, m.Bounds())
		if sr.Dx() != 2*AvatarSize {
			t.Fatalf("shrunk to %v", sr)
		}
		for i, v := range small.(*image.Gray).Pix {
			if v != 90 {
				t.Fatalf("sample %d = %d, want 90", i, v)
			}
		}
	})
	t.Run("other images pass through", func(t *testing.T) {
		t.Parallel()
		m := image.NewNRGBA(image.Rect(0, 0, 2048, 2048))
		if small, sr := boxShrink(m, m.Bounds()); small != image.Image(m) || sr != m.Bounds() {
			t.Errorf("an NRGBA was shrunk to %v", sr)
		}
	})
}

// TestNormalizeAvatarStripsPhoneEXIF: a phone's EXIF block, GPS included,
// does its one job (the turn) and leaves nothing in the output.
func TestNormalizeAvatarStripsPhoneEXIF(t *testing.T) {
	t.Parallel()
	tiff := exifTIFF(binary.BigEndian, orientRotate90CW, true)
	inputs := map[string][]byte{
		"image/jpeg": jpegWithEXIF(t, encodeJPEG(t, quadrants(640, 480)), tiff),
		"image/png":  pngWithEXIF(encodePNG(t, quadrants(640, 480)), tiff),
	}
	secrets := []string{"Exif", "eXIf", "PhoneMakerCo", "SECRET-GPS", "48.8584", "MM\x00\x2a"}
	for ct, in := range inputs {
		for _, s := range secrets[2:] {
			if !bytes.Contains(in, []byte(s)) {
				t.Fatalf("%s input lacks %q", ct, s)
			}
		}
		out, gotType, err := normalizeAvatar(in)
		if err != nil || gotType != ct {
			t.Fatalf("normalizeAvatar = %q, %v; want %q", gotType, err, ct)
		}
		for _, s := range secrets {
			if bytes.Contains(out, []byte(s)) {
				t.Errorf("%s output still contains %q", ct, s)
			}
		}
		if o := avatarOrientation(sniffAvatar(out), out); o != orientNormal {
			t.Errorf("%s output has orientation %d", ct, o)
		}
	}
}

// phonePhoto is a 4032×3024 (12 MP) JPEG at quality 90 turned by EXIF
// orientation 6, as a phone held upright saves it: smooth gradients with
// noise, so that it compresses like a photo (about 2 MiB) rather than
// like a flat test card.
func phonePhoto(tb testing.TB) []byte {
	tb.Helper()
	const w, h = 4032, 3024
	rng := rand.New(rand.NewPCG(1, 2))
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			m.Y[y*m.YStride+x] = uint8((x*255/w+y*255/h)/2 + rng.IntN(12))
		}
	}
	for y := range h / 2 {
		for x := range w / 2 {
			m.Cb[y*m.CStride+x] = uint8(96 + x*64/(w/2))
			m.Cr[y*m.CStride+x] = uint8(160 - y*64/(h/2))
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	return jpegWithEXIF(tb, buf.Bytes(), exifTIFF(binary.BigEndian, orientRotate90CW, true))
}

// BenchmarkNormalizeAvatarPhone normalizes a 12 MP phone photo (decode,
// crop, Catmull-Rom scaling to AvatarSize, turn, JPEG encode) and, in the
// same loop, decodes the same file with image/jpeg alone, reporting the
// ratio: the cost of an avatar over the decode it cannot avoid.
func BenchmarkNormalizeAvatarPhone(b *testing.B) {
	data := phonePhoto(b)
	var tDecode, tNormalize time.Duration
	var outBytes int
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		out, _, err := normalizeAvatar(data)
		if err != nil {
			b.Fatal(err)
		}
		tNormalize += time.Since(t1)
		tDecode += t1.Sub(t0)
		outBytes = len(out)
	}
	b.ReportMetric(float64(tNormalize)/float64(tDecode), "normalize/decode")
	b.ReportMetric(float64(tNormalize.Microseconds())/1000/float64(b.N), "normalize-ms/op")
	b.ReportMetric(float64(tDecode.Microseconds())/1000/float64(b.N), "decode-ms/op")
	b.ReportMetric(float64(len(data))/(1<<20), "input-MiB")
	b.ReportMetric(float64(outBytes), "output-bytes")
}
