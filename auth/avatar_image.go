package auth

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Limits on an uploaded avatar, checked before any pixel is decoded. They
// admit what phones and cameras write (a 12 MP photo is 4032×3024 and a
// few MiB; 48 MP phones save 12 MP by default, and panoramas are long but
// narrow) and refuse what only a decompression bomb needs.
const (
	// MaxAvatarBytes is the largest avatar file accepted, in bytes.
	MaxAvatarBytes = 10 << 20
	// MaxAvatarPixels is the largest width and the largest height, in
	// pixels, of an accepted avatar.
	MaxAvatarPixels = 8000
	// MaxAvatarArea is the largest width × height, in pixels, of an
	// accepted avatar: 40 megapixels, so 8000×5000 passes and 8000×8000
	// does not. Decoded, 40 MP is 60 MB for a typical JPEG and up to
	// 320 MB for a 16-bit PNG, which is why no more than
	// maxAvatarDecodes uploads are decoded at once.
	MaxAvatarArea = 40_000_000
)

// AvatarSize is the side, in pixels, of every stored avatar: the upload's
// centred square, scaled down to AvatarSize×AvatarSize. An image whose
// shorter side is under AvatarSize is cropped to its centred square but
// not enlarged: enlarging adds bytes and no detail, and a browser scales
// a small avatar up for display just as well.
const AvatarSize = 256

// maxJPEGScans bounds the work a JPEG may ask for. Go's decoder walks
// every block of the image once per scan, and a progressive scan can be
// a dozen bytes long, so 10 MiB of 1024×1024 JPEG could hold some 800,000
// scans and keep a CPU busy for hours. Encoders write 1 scan (baseline),
// 3 (one per component) or about 10 (progressive); the allowance leaves
// room for an EXIF thumbnail, appended gain maps and stray marker-like
// bytes in metadata, which the count below includes. Measured, a scan
// costs about 0.4 ms per megapixel, so 64 of them over MaxAvatarArea come
// to about a second: the same order as decoding a 40 MP baseline photo.
const maxJPEGScans = 64

// avatarFormat is one image format an avatar may arrive in. The decoders
// are called directly after sniffing rather than through image.Decode, so
// the formats accepted here do not depend on what other packages in the
// program happen to register.
type avatarFormat struct {
	name         string
	decodeConfig func(io.Reader) (image.Config, error)
	decode       func(io.Reader) (image.Image, error)
}

var (
	avatarPNG  = &avatarFormat{"png", png.DecodeConfig, png.Decode}
	avatarJPEG = &avatarFormat{"jpeg", jpeg.DecodeConfig, jpeg.Decode}
	avatarGIF  = &avatarFormat{"gif", gifDecodeConfig, gif.Decode}
	avatarWebP = &avatarFormat{"webp", webp.DecodeConfig, webp.Decode}
)

// sniffAvatar names the format by its magic bytes; the file name and the
// client's Content-Type are never consulted. It returns nil for anything
// else.
func sniffAvatar(data []byte) *avatarFormat {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return avatarPNG
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return avatarJPEG
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return avatarGIF
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return avatarWebP
	}
	return nil
}

// gifDecodeConfig is [gif.DecodeConfig], which reads no further than the
// screen descriptor, plus a look at the next byte, which must open an
// extension or an image. Without it any text after "GIF89a" reads as a
// screen thousands of pixels wide, and would be refused as too large
// rather than as not an image.
func gifDecodeConfig(r io.Reader) (image.Config, error) {
	br := bufio.NewReader(r) // gif reads exactly the header from an io.ByteReader
	cfg, err := gif.DecodeConfig(br)
	if err != nil {
		return image.Config{}, err
	}
	switch c, err := br.ReadByte(); {
	case err == io.EOF:
		return image.Config{}, io.ErrUnexpectedEOF
	case err != nil:
		return image.Config{}, err
	case c != '!' && c != ',':
		return image.Config{}, fmt.Errorf("gif: block type %#x after the screen descriptor", c)
	}
	return cfg, nil
}

// normalizeAvatar checks an uploaded avatar and rewrites it into a fresh
// file that carries nothing but pixels. It follows OWASP ASVS 5.0 V5 (File
// Handling): a size limit before parsing (5.2.1), the type taken from the
// content's magic bytes and confirmed by a full decode, then image
// re-writing (5.2.2), and pixel limits against pixel floods (5.2.6).
//
// PNG, JPEG, GIF and WebP are accepted. The image is turned upright by
// its EXIF orientation (JPEG, PNG and WebP; see avatarOrientation), cut
// to its centred square and scaled down to [AvatarSize] on each side (an
// image smaller than that is cropped, not enlarged). A JPEG comes back as
// a JPEG at quality 90 ("image/jpeg"); everything else comes back as a PNG
// ("image/png"), which keeps transparency, an animated GIF as its first
// frame. Re-encoding drops all metadata: EXIF (including GPS position and
// orientation, already applied to the pixels), XMP, ICC profiles,
// comments and text chunks, as well as anything appended after the image
// data.
//
// Input over [MaxAvatarBytes], wider or taller than [MaxAvatarPixels], of
// more than [MaxAvatarArea] pixels, or a JPEG of more than a few dozen
// scans returns an error wrapping [ErrImageTooLarge]; the dimensions are
// read from the header before the pixels are allocated, so a small file
// claiming a huge canvas costs nothing. Anything that is not a complete
// image in one of the four formats returns an error wrapping
// [ErrInvalidImage].
func normalizeAvatar(data []byte) (out []byte, contentType string, err error) {
	u, err := inspectAvatar(data)
	if err != nil {
		return nil, "", err
	}
	return u.rewrite()
}

// avatarUpload is an upload that passed every check made before decoding.
type avatarUpload struct {
	f           *avatarFormat
	data        []byte
	orientation int
}

// inspectAvatar makes the checks that need no pixels: the file size, the
// format, the dimensions in the header and a JPEG's scan count. None of
// them allocates more than a few kilobytes.
func inspectAvatar(data []byte) (*avatarUpload, error) {
	if len(data) > MaxAvatarBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrImageTooLarge, len(data), MaxAvatarBytes)
	}
	f := sniffAvatar(data)
	if f == nil {
		return nil, fmt.Errorf("%w: unrecognised content", ErrInvalidImage)
	}

	cfg, err := recoverDecode(func() (image.Config, error) {
		return f.decodeConfig(bytes.NewReader(data))
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s header: %v", ErrInvalidImage, f.name, err)
	}
	if err := checkAvatarSize(f, cfg.Width, cfg.Height); err != nil {
		return nil, err
	}

	// In entropy-coded data a 0xff byte is always followed by 0x00 or a
	// restart marker, so every scan the decoder starts is an FF DA pair
	// in the input: counting pairs overestimates scans, never misses one.
	if f == avatarJPEG {
		if n := bytes.Count(data, []byte{0xff, 0xda}); n > maxJPEGScans {
			return nil, fmt.Errorf("%w: %d JPEG scans, the limit is %d", ErrImageTooLarge, n, maxJPEGScans)
		}
	}
	return &avatarUpload{f: f, data: data, orientation: avatarOrientation(f, data)}, nil
}

// rewrite decodes the upload and encodes the upright, square, scaled
// avatar.
func (u *avatarUpload) rewrite() (out []byte, contentType string, err error) {
	f := u.f
	img, err := recoverDecode(func() (image.Image, error) {
		return f.decode(bytes.NewReader(u.data))
	})
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: %v", ErrInvalidImage, f.name, err)
	}
	// The decoders already hold the pixels to the header's dimensions;
	// checking again costs nothing and does not rely on that.
	if err := checkAvatarSize(f, img.Bounds().Dx(), img.Bounds().Dy()); err != nil {
		return nil, "", err
	}
	square := orient(avatarSquare(img), u.orientation)

	var buf bytes.Buffer
	if f == avatarJPEG {
		contentType = "image/jpeg"
		err = jpeg.Encode(&buf, square, &jpeg.Options{Quality: 90})
	} else {
		contentType = "image/png"
		err = png.Encode(&buf, square)
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: re-encoding %s avatar: %w", f.name, err)
	}
	return buf.Bytes(), contentType, nil
}

func checkAvatarSize(f *avatarFormat, width, height int) error {
	if width < 1 || height < 1 {
		return fmt.Errorf("%w: %s of %dx%d pixels", ErrInvalidImage, f.name, width, height)
	}
	if width > MaxAvatarPixels || height > MaxAvatarPixels {
		return fmt.Errorf("%w: %dx%d pixels, the limit is %d on each side",
			ErrImageTooLarge, width, height, MaxAvatarPixels)
	}
	// Both sides are at most 8000 here, so the product cannot overflow.
	if width*height > MaxAvatarArea {
		return fmt.Errorf("%w: %dx%d pixels, the limit is %d in all",
			ErrImageTooLarge, width, height, MaxAvatarArea)
	}
	return nil
}

// avatarSquare cuts the centred square out of img and scales it down to
// AvatarSize×AvatarSize with Catmull-Rom, which weighs every source pixel
// under the kernel and so does not alias when shrinking a 4000-pixel photo
// 15 times (nearest-neighbour and the approximate bilinear filter skip
// pixels and shimmer on fine detail). A square smaller than AvatarSize is
// copied as it is. Orientation is applied afterwards, to the small
// square: rotating and mirroring move the centre to the centre, so the
// crop is the same either way.
func avatarSquare(img image.Image) *image.RGBA {
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	src := image.Rect(0, 0, side, side).Add(b.Min).Add(image.Pt((b.Dx()-side)/2, (b.Dy()-side)/2))
	if side <= AvatarSize {
		dst := image.NewRGBA(image.Rect(0, 0, side, side))
		draw.Copy(dst, image.Point{}, img, src, draw.Src, nil)
		return dst
	}
	img, src = boxShrink(img, src)
	dst := image.NewRGBA(image.Rect(0, 0, AvatarSize, AvatarSize))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, src, draw.Src, nil)
	return dst
}

// boxShrink averages r, a square of img, over k×k blocks down to between
// two and four times AvatarSize on a side, which Catmull-Rom then takes
// the rest of the way. Catmull-Rom over the whole of a photo visits each
// source pixel about 16 times with floating-point weights, several times
// the cost of decoding it; the box average visits each once with integer
// sums, so a 12 MP photo costs little more than its decode. It works on
// the planes of what JPEG and lossy WebP decode to (YCbCr and grey);
// other images are returned as they are.
func boxShrink(img image.Image, r image.Rectangle) (image.Image, image.Rectangle) {
	k := r.Dx() / (2 * AvatarSize)
	if k < 2 {
		return img, r
	}
	n := r.Dx() / k
	// The k-1 or fewer columns and rows that fill no block are split
	// between the two edges, keeping the centre where it was.
	r = image.Rect(0, 0, n*k, n*k).Add(r.Min).Add(image.Pt(r.Dx()%k/2, r.Dy()%k/2))
	out := image.Rect(0, 0, n, n)
	switch m := img.(type) {
	case *image.YCbCr:
		hs, vs := 0, 0
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio422:
			hs = 1
		case image.YCbCrSubsampleRatio420:
			hs, vs = 1, 1
		case image.YCbCrSubsampleRatio440:
			vs = 1
		case image.YCbCrSubsampleRatio411:
			hs = 2
		case image.YCbCrSubsampleRatio410:
			hs, vs = 2, 1
		}
		dst := image.NewYCbCr(out, image.YCbCrSubsampleRatio444)
		luma := plane{m.Y, m.YStride, m.Rect.Min.X, m.Rect.Min.Y, 0, 0}
		luma.box(r, k, dst.Y, dst.YStride)
		cb := plane{m.Cb, m.CStride, m.Rect.Min.X >> hs, m.Rect.Min.Y >> vs, hs, vs}
		cb.box(r, k, dst.Cb, dst.CStride)
		cr := cb
		cr.pix = m.Cr
		cr.box(r, k, dst.Cr, dst.CStride)
		return dst, out
	case *image.Gray:
		dst := image.NewGray(out)
		plane{m.Pix, m.Stride, m.Rect.Min.X, m.Rect.Min.Y, 0, 0}.box(r, k, dst.Pix, dst.Stride)
		return dst, out
	}
	return img, r
}

// plane is one 8-bit channel of an image: sample (px, py), in the plane's
// own coordinates, is pix[(py-minY)*stride + px-minX]; image point (x, y)
// falls on sample (x>>hs, y>>vs).
type plane struct {
	pix        []uint8
	stride     int
	minX, minY int
	hs, vs     int
}

// box writes to dst the mean of each k×k block of image points in r, from
// the samples those points fall on.
func (p plane) box(r image.Rectangle, k int, dst []uint8, dstStride int) {
	n := r.Dx() / k
	sums := make([]uint32, n)
	for oy := range n {
		y0 := r.Min.Y + oy*k
		py0, py1 := y0>>p.vs, (y0+k-1)>>p.vs
		clear(sums)
		for py := py0; py <= py1; py++ {
			row := p.pix[(py-p.minY)*p.stride:]
			for ox := range n {
				x0 := r.Min.X + ox*k
				var s uint32
				for _, v := range row[x0>>p.hs-p.minX : (x0+k-1)>>p.hs-p.minX+1] {
					s += uint32(v)
				}
				sums[ox] += s
			}
		}
		out := dst[oy*dstStride:][:n]
		for ox := range n {
			x0 := r.Min.X + ox*k
			count := uint32((py1 - py0 + 1) * ((x0+k-1)>>p.hs - x0>>p.hs + 1))
			out[ox] = uint8((sums[ox] + count/2) / count)
		}
	}
}

// orient returns the square m turned upright for an EXIF orientation:
// each displayed pixel (x, y) is read from where the orientation says
// the stored image keeps it. Orientations 5 to 8 swap the axes, which a
// square does not notice.
func orient(m *image.RGBA, orientation int) *image.RGBA {
	if orientation == orientNormal {
		return m
	}
	n := m.Bounds().Dx() // m is square, at the origin
	last := n - 1
	out := image.NewRGBA(m.Bounds())
	for y := range n {
		for x := range n {
			var sx, sy int
			switch orientation {
			case orientMirror:
				sx, sy = last-x, y
			case orientRotate180:
				sx, sy = last-x, last-y
			case orientFlip:
				sx, sy = x, last-y
			case orientTranspose:
				sx, sy = y, x
			case orientRotate90CW:
				sx, sy = y, last-x
			case orientTransverse:
				sx, sy = last-y, last-x
			case orientRotate90CCW:
				sx, sy = last-y, x
			default:
				return m
			}
			copy(out.Pix[out.PixOffset(x, y):][:4], m.Pix[m.PixOffset(sx, sy):][:4])
		}
	}
	return out
}

// maxAvatarDecodes is how many avatars this process decodes at once. At
// the limits a decode holds up to 320 MB of pixels (a 16-bit RGBA PNG of
// MaxAvatarArea pixels) for a fraction of a second, and one upload keeps
// a CPU busy meanwhile; a burst of uploads waits its turn rather than
// multiplying that.
const maxAvatarDecodes = 2

var avatarDecodes = make(chan struct{}, maxAvatarDecodes)

// normalizeAvatarBounded is normalizeAvatar, decoding once one of the
// maxAvatarDecodes places is free, or ctx's error if ctx ends first. An
// upload refused from its header does not wait.
func normalizeAvatarBounded(ctx context.Context, data []byte) ([]byte, string, error) {
	u, err := inspectAvatar(data)
	if err != nil {
		return nil, "", err
	}
	select {
	case avatarDecodes <- struct{}{}:
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	defer func() { <-avatarDecodes }()
	return u.rewrite()
}

// recoverDecode runs a decoder over untrusted bytes and turns a panic into
// an error, so that a decoder bug reached by a hostile file fails one
// upload instead of the process.
func recoverDecode[T any](decode func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, fmt.Errorf("decoder panic: %v", p)
		}
	}()
	return decode()
}
