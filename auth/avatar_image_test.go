package auth

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/webp"
)

// Minimal 1×1 WebP files, each checked against golang.org/x/image/webp:
// lossless (VP8L), lossy (VP8) and extended (VP8X with an ALPH chunk).
var (
	webpLossless = []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")
	webpLossy    = []byte("RIFF\x22\x00\x00\x00WEBPVP8 \x16\x00\x00\x00\x30\x01\x00\x9d\x01\x2a\x01\x00\x01\x00\x0e\xc0\xfe\x25\xa4\x00\x03\x70\x00\x00\x00\x00")
	webpAlpha    = []byte("RIFF\x4a\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"ALPH\x0c\x00\x00\x00\x11\x07\x10\x11\xfd\x0f\x44\x44\xff\x03\x00\x00" +
		"VP8 \x18\x00\x00\x00\x14\x01\x00\x9d\x01\x2a\x01\x00\x01\x00\x00\x00\xfe\x00\x00\x0d\xc0\x00\xfe\xe6\xb5\x00\x00\x00")
)

// pattern returns a w×h opaque gradient, for checking a lossless round
// trip pixel by pixel.
func pattern(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 16), G: uint8(y * 16), B: uint8(x + y), A: 255})
		}
	}
	return m
}

func encodePNG(tb testing.TB, m image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(tb testing.TB, m image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, nil); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// encodeGIF writes one frame per colour, each filling a w×h canvas.
func encodeGIF(tb testing.TB, w, h int, colors ...color.Color) []byte {
	tb.Helper()
	g := &gif.GIF{}
	for _, c := range colors {
		g.Image = append(g.Image, image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{c, color.Black}))
		g.Delay = append(g.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

var (
	red  = color.RGBA{R: 255, A: 255}
	blue = color.RGBA{B: 255, A: 255}
)

// pngChunk builds one PNG chunk with a correct CRC.
func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// pngHeader is a PNG whose IHDR claims w×h RGBA pixels, followed by one
// short row of image data: a decoder that trusts the header allocates the
// whole canvas before it finds the data missing.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	var idat bytes.Buffer
	zw := zlib.NewWriter(&idat)
	zw.Write(make([]byte, 64))
	zw.Close()
	b := append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", idat.Bytes())...)
	return append(b, pngChunk("IEND", nil)...)
}

// gifHeader is a GIF whose logical screen and single frame claim w×h but
// which holds no pixel data.
func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	b = append(b, 0, 0, 0, 0x2c, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 2, 0, 0x3b)
}

// jpegClaiming is a valid 8×8 JPEG whose SOF0 segment is patched to claim
// w×h pixels.
func jpegClaiming(tb testing.TB, w, h uint16) []byte {
	tb.Helper()
	b := encodeJPEG(tb, pattern(8, 8))
	i := bytes.Index(b, []byte{0xff, 0xc0})
	if i < 0 {
		tb.Fatal("no SOF0 in encoded JPEG")
	}
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

// progressiveJPEG builds a w×h greyscale progressive JPEG of the given
// number of AC scans, each coding all blocks as empty with one end-of-band
// run; w*h/64 must be a power of two. Every scan makes Go's decoder visit
// every block, which is what maxJPEGScans bounds.
func progressiveJPEG(w, h, scans int) []byte {
	runBits := bits.Len(uint(w*h/64)) - 1
	b := []byte{0xff, 0xd8}
	b = append(b, 0xff, 0xdb, 0, 67, 0) // DQT 0, all ones
	b = append(b, bytes.Repeat([]byte{1}, 64)...)
	b = append(b, 0xff, 0xc2, 0, 11, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 1, 1, 0x11, 0) // SOF2
	// DHT: AC table 0 holds one symbol, EOBn with n = runBits, coded "0".
	b = append(b, 0xff, 0xc4, 0, 20, 0x10, 1)
	b = append(b, make([]byte, 15)...)
	b = append(b, byte(runBits<<4))
	// The code bit, runBits zero bits, then one-bits to the byte boundary.
	entropy := make([]byte, (1+runBits+7)/8)
	entropy[len(entropy)-1] = 0xff >> ((1 + runBits) % 8)
	if (1+runBits)%8 == 0 {
		entropy[len(entropy)-1] = 0
	}
	for range scans {
		b = append(b, 0xff, 0xda, 0, 8, 1, 1, 0x00, 1, 63, 0x00) // SOS: Ss=1 Se=63
		b = append(b, entropy...)
	}
	return append(b, 0xff, 0xd9)
}

// webpLosslessClaiming patches the VP8L header of webpLossless to claim
// w×h pixels (each at most 16384).
func webpLosslessClaiming(w, h uint32) []byte {
	b := bytes.Clone(webpLossless)
	binary.LittleEndian.PutUint32(b[21:], (w-1)|(h-1)<<14|1<<28)
	return b
}

// webpCanvas is an extended WebP whose VP8X canvas claims w×h pixels,
// followed by the 1×1 lossless bitstream of webpLossless.
func webpCanvas(w, h uint32, flags byte) []byte {
	vp8x := []byte{flags, 0, 0, 0}
	vp8x = binary.LittleEndian.AppendUint32(vp8x, w-1)[:7]
	vp8x = binary.LittleEndian.AppendUint32(vp8x, h-1)[:10]
	return riffWebP(webpChunk("VP8X", vp8x), webpLossless[12:])
}

func webpChunk(fourCC string, data []byte) []byte {
	c := append([]byte(fourCC), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	c = append(c, data...)
	if len(data)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

func riffWebP(chunks ...[]byte) []byte {
	body := []byte("WEBP")
	for _, c := range chunks {
		body = append(body, c...)
	}
	b := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	return append(b, body...)
}

func decoderFor(tb testing.TB, contentType string) func(io.Reader) (image.Image, error) {
	tb.Helper()
	switch contentType {
	case "image/png":
		return png.Decode
	case "image/jpeg":
		return jpeg.Decode
	}
	tb.Fatalf("content type %q, want image/png or image/jpeg", contentType)
	return nil
}

// mustNormalize runs normalizeAvatar, expects success and decodes the
// result with the decoder for the announced type.
func mustNormalize(tb testing.TB, data []byte, wantType string) image.Image {
	tb.Helper()
	out, ct, err := normalizeAvatar(data)
	if err != nil {
		tb.Fatalf("normalizeAvatar: %v", err)
	}
	if ct != wantType {
		tb.Fatalf("content type %q, want %q", ct, wantType)
	}
	m, err := decoderFor(tb, ct)(bytes.NewReader(out))
	if err != nil {
		tb.Fatalf("output does not decode as %s: %v", ct, err)
	}
	return m
}

func TestNormalizeAvatarValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		data     []byte
		wantType string
		wantSize image.Point
		check    func(t *testing.T, m image.Image)
	}{
		{
			// Under AvatarSize: the centred square, pixel for pixel.
			name: "png", data: encodePNG(t, pattern(16, 12)), wantType: "image/png", wantSize: image.Pt(12, 12),
			check: func(t *testing.T, m image.Image) {
				want := pattern(16, 12)
				for y := range 12 {
					for x := range 12 {
						if got := color.NRGBAModel.Convert(m.At(x, y)); got != want.At(x+2, y) {
							t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, want.At(x+2, y))
						}
					}
				}
			},
		},
		{name: "jpeg", data: encodeJPEG(t, pattern(16, 12)), wantType: "image/jpeg", wantSize: image.Pt(12, 12)},
		{name: "gif", data: encodeGIF(t, 5, 3, red), wantType: "image/png", wantSize: image.Pt(3, 3)},
		{
			name: "animated gif keeps the first frame", data: encodeGIF(t, 4, 4, red, blue),
			wantType: "image/png", wantSize: image.Pt(4, 4),
			check: func(t *testing.T, m image.Image) {
				if got := color.RGBAModel.Convert(m.At(2, 2)); got != red {
					t.Errorf("pixel = %v, want the first frame's red", got)
				}
			},
		},
		{name: "webp lossless", data: webpLossless, wantType: "image/png", wantSize: image.Pt(1, 1)},
		{name: "webp lossy", data: webpLossy, wantType: "image/png", wantSize: image.Pt(1, 1)},
		{name: "webp extended with alpha", data: webpAlpha, wantType: "image/png", wantSize: image.Pt(1, 1)},
		{name: "png of AvatarSize+1 is scaled", data: encodePNG(t, pattern(AvatarSize+1, AvatarSize+1)), wantType: "image/png", wantSize: image.Pt(AvatarSize, AvatarSize)},
		{name: "png of exactly AvatarSize is kept", data: encodePNG(t, pattern(AvatarSize, AvatarSize)), wantType: "image/png", wantSize: image.Pt(AvatarSize, AvatarSize)},
		{name: "progressive jpeg", data: progressiveJPEG(16, 16, 10), wantType: "image/jpeg", wantSize: image.Pt(16, 16)},
		{name: "progressive jpeg of maxJPEGScans scans", data: progressiveJPEG(1024, 1024, maxJPEGScans), wantType: "image/jpeg", wantSize: image.Pt(AvatarSize, AvatarSize)},
		{name: "gif 8000x1", data: encodeGIF(t, MaxAvatarPixels, 1, red), wantType: "image/png", wantSize: image.Pt(1, 1)},
		{
			// Trailing bytes are legal to the PNG decoder and vanish in the
			// rewrite, so a PNG+HTML polyglot comes out as a plain PNG.
			name: "png padded to exactly MaxAvatarBytes", wantType: "image/png", wantSize: image.Pt(2, 2),
			data: func() []byte {
				b := encodePNG(t, pattern(2, 2))
				return append(b, bytes.Repeat([]byte("<script>"), (MaxAvatarBytes-len(b))/8+1)...)[:MaxAvatarBytes]
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustNormalize(t, tt.data, tt.wantType)
			if got := m.Bounds().Size(); got != tt.wantSize {
				t.Errorf("size %v, want %v", got, tt.wantSize)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestNormalizeAvatarStripsMetadata(t *testing.T) {
	t.Parallel()

	jpegWithMetadata := func() []byte {
		b := encodeJPEG(t, pattern(16, 16))
		segment := func(marker byte, payload string) []byte {
			s := []byte{0xff, marker}
			s = binary.BigEndian.AppendUint16(s, uint16(len(payload)+2))
			return append(s, payload...)
		}
		meta := segment(0xe1, "Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08GPSLatitude=48.8584N GPSLongitude=2.2945E")
		meta = append(meta, segment(0xe1, "http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>xmp-secret</x:xmpmeta>")...)
		meta = append(meta, segment(0xe2, "ICC_PROFILE\x00\x01\x01icc-secret-description")...)
		meta = append(meta, segment(0xfe, "jpeg-comment-secret")...)
		return append(append(b[:2:2], meta...), b[2:]...)
	}()

	pngWithMetadata := func() []byte {
		b := encodePNG(t, pattern(16, 16))
		const afterIHDR = 8 + 4 + 4 + 13 + 4
		meta := pngChunk("tEXt", []byte("Comment\x00png-text-secret"))
		meta = append(meta, pngChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta>xmp-secret</x:xmpmeta>"))...)
		meta = append(meta, pngChunk("eXIf", []byte("MM\x00\x2a\x00\x00\x00\x08GPSLatitude=48.8584N"))...)
		meta = append(meta, pngChunk("iCCP", []byte("icc-secret-description\x00\x00\x78\x9c"))...)
		b = append(append(b[:afterIHDR:afterIHDR], meta...), b[afterIHDR:]...)
		return append(b, "trailing-secret"...)
	}()

	gifWithMetadata := func() []byte {
		b := encodeGIF(t, 8, 8, red, blue)
		if b[10]&0x80 != 0 {
			t.Fatal("encoded GIF has a global colour table; the insertion offset below is wrong")
		}
		const afterScreen = 6 + 7
		meta := []byte("\x21\xfe\x13gif-comment-secret!\x00")
		meta = append(meta, "\x21\xff\x0bXMP DataXMP\x0axmp-secret\x00"...)
		return append(append(b[:afterScreen:afterScreen], meta...), b[afterScreen:]...)
	}()

	const exifFlag, iccFlag, xmpFlag = 1 << 3, 1 << 5, 1 << 2
	webpWithMetadata := riffWebP(
		webpCanvas(1, 1, exifFlag|iccFlag|xmpFlag)[12:],
		webpChunk("EXIF", []byte("MM\x00\x2a\x00\x00\x00\x08GPSLatitude=48.8584N")),
		webpChunk("XMP ", []byte("<x:xmpmeta>xmp-secret</x:xmpmeta>")),
	)

	tests := []struct {
		name     string
		data     []byte
		wantType string
		secrets  []string
	}{
		{"jpeg exif xmp icc comment", jpegWithMetadata, "image/jpeg", []string{"Exif", "GPSLatitude", "48.8584", "xmp-secret", "ICC_PROFILE", "icc-secret", "jpeg-comment-secret"}},
		{"png text itxt exif iccp trailer", pngWithMetadata, "image/png", []string{"png-text-secret", "xmp-secret", "GPSLatitude", "icc-secret", "trailing-secret", "tEXt", "iTXt", "eXIf", "iCCP"}},
		{"gif comment and xmp", gifWithMetadata, "image/png", []string{"gif-comment-secret", "xmp-secret", "XMP Data"}},
		{"webp exif and xmp", webpWithMetadata, "image/png", []string{"GPSLatitude", "xmp-secret", "EXIF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range tt.secrets {
				if !bytes.Contains(tt.data, []byte(s)) {
					t.Fatalf("test input lacks %q", s)
				}
			}
			out, ct, err := normalizeAvatar(tt.data)
			if err != nil || ct != tt.wantType {
				t.Fatalf("normalizeAvatar = %q, %v; want %q", ct, err, tt.wantType)
			}
			if _, err := decoderFor(t, ct)(bytes.NewReader(out)); err != nil {
				t.Fatalf("output does not decode: %v", err)
			}
			for _, s := range tt.secrets {
				if bytes.Contains(out, []byte(s)) {
					t.Errorf("output still contains %q", s)
				}
			}
		})
	}
}

func TestNormalizeAvatarRejects(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewChaCha8([32]byte{'u', 's', 'h', 'e', 'r'}))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	validPNG := encodePNG(t, pattern(16, 16))
	validJPEG := encodeJPEG(t, pattern(16, 16))
	validGIF := encodeGIF(t, 16, 16, red)
	badCRC := bytes.Clone(validPNG)
	badCRC[45] ^= 0xff // inside the first IDAT chunk's data

	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{"nil", nil, ErrInvalidImage},
		{"empty", []byte{}, ErrInvalidImage},
		{"random bytes", random(4096), ErrInvalidImage},
		{"a few random bytes", random(7), ErrInvalidImage},
		{"text in a file named avatar.png", []byte("this is avatar.png, honest\n"), ErrInvalidImage},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), ErrInvalidImage},
		{"html", []byte("<!doctype html><script>alert(1)</script>"), ErrInvalidImage},
		{"bmp", append([]byte("BM"), random(64)...), ErrInvalidImage},
		{"tiff", append([]byte("II*\x00"), random(64)...), ErrInvalidImage},
		{"riff wave", append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), random(32)...), ErrInvalidImage},
		{"png signature then html", append([]byte("\x89PNG\r\n\x1a\n"), "<script>alert(1)</script>"...), ErrInvalidImage},
		{"gif signature then text", []byte("GIF89a but not really"), ErrInvalidImage},
		{"webp signature then text", []byte("RIFF\x00\x00\x00\x00WEBP but not really"), ErrInvalidImage},
		{"png with a bad crc", badCRC, ErrInvalidImage},
		{"png of zero width", pngHeader(0, 1), ErrInvalidImage},

		{"png truncated to its signature", validPNG[:8], ErrInvalidImage},
		{"png truncated after IHDR", validPNG[:33], ErrInvalidImage},
		{"png truncated in half", validPNG[:len(validPNG)/2], ErrInvalidImage},
		{"png without IEND", validPNG[:len(validPNG)-12], ErrInvalidImage},
		{"jpeg truncated to its SOI", validJPEG[:3], ErrInvalidImage},
		{"jpeg truncated in half", validJPEG[:len(validJPEG)/2], ErrInvalidImage},
		{"jpeg truncated in the scan", validJPEG[:len(validJPEG)-8], ErrInvalidImage},
		{"gif screen then trailer", append(bytes.Clone(validGIF[:13]), 0x3b), ErrInvalidImage},
		{"gif truncated to its signature", validGIF[:6], ErrInvalidImage},
		{"gif truncated after the screen", validGIF[:13], ErrInvalidImage},
		{"gif truncated in the frame", validGIF[:len(validGIF)-4], ErrInvalidImage},
		{"webp truncated to its RIFF header", webpLossless[:12], ErrInvalidImage},
		{"webp lossless truncated in the header", webpLossless[:23], ErrInvalidImage},
		{"webp lossless truncated in half", webpLossless[:len(webpLossless)/2+6], ErrInvalidImage},
		{"webp lossy truncated", webpLossy[:len(webpLossy)-4], ErrInvalidImage},
		{"webp extended truncated in ALPH", webpAlpha[:40], ErrInvalidImage},
		{"webp canvas and bitstream disagree", webpCanvas(2, 2, 0), ErrInvalidImage},

		{"MaxAvatarBytes+1 bytes", append(bytes.Clone(validPNG), make([]byte, MaxAvatarBytes+1-len(validPNG))...), ErrImageTooLarge},
		{"png 8001x1", encodePNG(t, image.NewGray(image.Rect(0, 0, MaxAvatarPixels+1, 1))), ErrImageTooLarge},
		{"png 1x8001", encodePNG(t, image.NewGray(image.Rect(0, 0, 1, MaxAvatarPixels+1))), ErrImageTooLarge},
		{"gif 8001x1", encodeGIF(t, MaxAvatarPixels+1, 1, red), ErrImageTooLarge},
		{"jpeg 8001x1", encodeJPEG(t, image.NewGray(image.Rect(0, 0, MaxAvatarPixels+1, 1))), ErrImageTooLarge},
		{"jpeg of maxJPEGScans+1 scans", progressiveJPEG(16, 16, maxJPEGScans+1), ErrImageTooLarge},
		{"png header claiming 8001x1", pngHeader(MaxAvatarPixels+1, 1), ErrImageTooLarge},
		{"png header claiming 8000x5001", pngHeader(8000, 5001), ErrImageTooLarge},
		{"png header claiming 5001x8000", pngHeader(5001, 8000), ErrImageTooLarge},
		{"png header claiming 100000x100000", pngHeader(100000, 100000), ErrImageTooLarge},
		{"gif header claiming 8000x5001", gifHeader(8000, 5001), ErrImageTooLarge},
		{"jpeg header claiming 8000x5001", jpegClaiming(t, 8000, 5001), ErrImageTooLarge},
		{"jpeg header claiming 65535x65535", jpegClaiming(t, 65535, 65535), ErrImageTooLarge},
		{"webp lossless header claiming 8000x5001", webpLosslessClaiming(8000, 5001), ErrImageTooLarge},
		{"webp lossless header claiming 16384x16384", webpLosslessClaiming(16384, 16384), ErrImageTooLarge},
		{"webp canvas claiming 16777216x1", webpCanvas(1<<24, 1, 0), ErrImageTooLarge},
		{"webp canvas claiming 8000x5001", webpCanvas(8000, 5001, 0), ErrImageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, ct, err := normalizeAvatar(tt.data)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if out != nil || ct != "" {
				t.Errorf("got %d bytes of %q alongside the error", len(out), ct)
			}
			if !strings.HasPrefix(err.Error(), "auth: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestNormalizeAvatarEveryPrefix cuts each valid sample at every length: a
// prefix either still decodes (some formats tolerate a missing trailer) or
// is refused with ErrInvalidImage, and nothing panics.
func TestNormalizeAvatarEveryPrefix(t *testing.T) {
	t.Parallel()
	for _, s := range validSamples(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			for n := range len(s.data) {
				out, ct, err := normalizeAvatar(s.data[:n])
				if err == nil {
					if _, err := decoderFor(t, ct)(bytes.NewReader(out)); err != nil {
						t.Fatalf("prefix of %d bytes: output does not decode: %v", n, err)
					}
					continue
				}
				if !errors.Is(err, ErrInvalidImage) {
					t.Fatalf("prefix of %d bytes: err = %v, want ErrInvalidImage", n, err)
				}
			}
		})
	}
}

// TestNormalizeAvatarRefusesBeforeAllocating measures the heap rather than
// the clock. It does not call t.Parallel, so the package's parallel tests
// do not allocate while it measures. Decoding the smallest claim here (the
// 8000x5001 paletted GIF, one row over MaxAvatarArea) would need 40 MB;
// the bound leaves room for stray allocations by other goroutines.
func TestNormalizeAvatarRefusesBeforeAllocating(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"png 8000x5001", pngHeader(8000, 5001)},
		{"png 100000x100000", pngHeader(100000, 100000)},
		{"gif 8000x5001", gifHeader(8000, 5001)},
		{"jpeg 8000x5001", jpegClaiming(t, 8000, 5001)},
		{"jpeg 65535x65535", jpegClaiming(t, 65535, 65535)},
		{"webp 8000x5001", webpLosslessClaiming(8000, 5001)},
		{"webp 16384x16384", webpLosslessClaiming(16384, 16384)},
		{"webp canvas 8000x5001", webpCanvas(8000, 5001, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := normalizeAvatar(tt.data)
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
				t.Errorf("allocated %d bytes before refusing", n)
			}
			if !errors.Is(err, ErrImageTooLarge) {
				t.Errorf("err = %v, want ErrImageTooLarge", err)
			}
		})
	}
}

// TestNormalizeAvatarJPEGScanLimit is the attack maxJPEGScans exists for:
// ten megabytes of 12-byte progressive scans over a 1024×1024 image,
// which Go's decoder would take hours to get through.
func TestNormalizeAvatarJPEGScanLimit(t *testing.T) {
	t.Parallel()
	data := progressiveJPEG(1024, 1024, MaxAvatarBytes/12-10)
	if len(data) > MaxAvatarBytes {
		t.Fatalf("test input is %d bytes, over the size limit", len(data))
	}
	_, _, err := normalizeAvatar(data)
	if !errors.Is(err, ErrImageTooLarge) || !strings.Contains(err.Error(), "scans") {
		t.Fatalf("err = %v, want ErrImageTooLarge for the scan count", err)
	}
}

func TestRecoverDecode(t *testing.T) {
	t.Parallel()
	m, err := recoverDecode(func() (image.Image, error) {
		var p *image.Paletted
		return p.SubImage(image.Rect(0, 0, 1, 1)), nil // nil dereference
	})
	if err == nil || m != nil {
		t.Fatalf("recoverDecode = %v, %v; want nil and an error", m, err)
	}
}

type sample struct {
	name     string
	data     []byte
	wantType string
}

func validSamples(tb testing.TB) []sample {
	return []sample{
		{"png", encodePNG(tb, pattern(8, 8)), "image/png"},
		{"jpeg", encodeJPEG(tb, pattern(8, 8)), "image/jpeg"},
		{"progressive jpeg", progressiveJPEG(16, 16, 3), "image/jpeg"},
		{"gif", encodeGIF(tb, 8, 8, red), "image/png"},
		{"animated gif", encodeGIF(tb, 8, 8, red, blue), "image/png"},
		{"webp lossless", webpLossless, "image/png"},
		{"webp lossy", webpLossy, "image/png"},
		{"webp extended", webpAlpha, "image/png"},
	}
}

func FuzzNormalizeAvatar(f *testing.F) {
	for _, s := range validSamples(f) {
		f.Add(s.data)
	}
	f.Add(pngHeader(8000, 5001))
	f.Add(gifHeader(8000, 5001))
	for o := range 8 {
		f.Add(jpegWithEXIF(f, encodeJPEG(f, quadrants(24, 16)), exifTIFF(binary.BigEndian, uint16(o+1), false)))
	}
	f.Add(pngWithEXIF(encodePNG(f, quadrants(24, 16)), exifTIFF(binary.LittleEndian, orientRotate90CW, true)))
	f.Add(webpWithEXIF(webpQuadrants, exifTIFF(binary.LittleEndian, orientTransverse, false)))
	f.Add(webpCanvas(2, 2, 0))
	f.Add([]byte("not an image"))

	f.Fuzz(func(t *testing.T, data []byte) {
		out, ct, err := normalizeAvatar(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidImage) && !errors.Is(err, ErrImageTooLarge) {
				t.Fatalf("err = %v, want ErrInvalidImage or ErrImageTooLarge", err)
			}
			if out != nil || ct != "" {
				t.Fatalf("got %d bytes of %q alongside the error", len(out), ct)
			}
			return
		}
		if wantJPEG := sniffAvatar(data) == avatarJPEG; wantJPEG != (ct == "image/jpeg") {
			t.Fatalf("content type %q for a %s input", ct, sniffAvatar(data).name)
		}
		m, err := decoderFor(t, ct)(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("output does not decode as %s: %v", ct, err)
		}
		if size := m.Bounds().Size(); size.X < 1 || size.X != size.Y || size.X > AvatarSize {
			t.Fatalf("output is %v pixels, want a square of at most %d", size, AvatarSize)
		}
		if len(out) <= MaxAvatarBytes {
			if _, ct2, err := normalizeAvatar(out); err != nil || ct2 != ct {
				t.Fatalf("normalizing the output again: %q, %v", ct2, err)
			}
		}
	})
}

// The WebP literals above must stay valid for the decoder itself, or the
// tests that build on them prove nothing.
func TestWebPSamplesDecode(t *testing.T) {
	t.Parallel()
	for name, b := range map[string][]byte{"lossless": webpLossless, "lossy": webpLossy, "alpha": webpAlpha} {
		if _, err := webp.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
