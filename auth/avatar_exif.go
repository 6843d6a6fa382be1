package auth

import (
	"bytes"
	"encoding/binary"
)

// The EXIF Orientation tag (0x0112) says how the stored pixels are turned
// relative to the scene: a phone held upright writes its sensor's
// landscape frame and 6 ("rotate 90° clockwise to display"). Browsers
// honour the tag, so an avatar that ignored it would show on its side,
// and once re-encoding drops the tag it would stay that way.
//
// Only that one tag is read, by hand, from IFD0 of the EXIF block. The
// well-kept Go readers parse the whole IFD tree (thumbnails, maker notes,
// GPS) to answer: github.com/dsoprea/go-exif/v3 (the one our module proxy
// list offers, last released in 2022) also brings go-logging, whose errors
// travel as panics, go-utility, golang/geo, go-flags, yaml.v2 and old
// pins of x/net and x/sys into a library that handles hostile uploads.
// Reading one SHORT from one table is a few dozen lines of bounds-checked
// encoding/binary, fuzzed by FuzzAvatarOrientation.

// Orientation values (EXIF 2.32, tag 0x0112). Each names where the stored
// image's first row and first column belong when displayed.
const (
	orientNormal      = 1 // row 0 at the top, column 0 at the left
	orientMirror      = 2 // top, right: mirrored left to right
	orientRotate180   = 3 // bottom, right
	orientFlip        = 4 // bottom, left: mirrored top to bottom
	orientTranspose   = 5 // left, top: mirrored along the main diagonal
	orientRotate90CW  = 6 // right, top: turn 90° clockwise to display
	orientTransverse  = 7 // right, bottom: mirrored along the other diagonal
	orientRotate90CCW = 8 // left, bottom: turn 90° counter-clockwise
)

const exifOrientationTag = 0x0112

// avatarOrientation returns the EXIF orientation of an image in format f,
// 1 to 8, or orientNormal when the file carries none, or one that cannot
// be read: a broken tag leaves the pixels as stored, it does not refuse
// the upload. JPEG keeps EXIF in an APP1 segment, PNG in an eXIf chunk and
// WebP in an EXIF chunk; GIF has no EXIF.
func avatarOrientation(f *avatarFormat, data []byte) int {
	var tiff []byte
	switch f {
	case avatarJPEG:
		tiff = jpegEXIF(data)
	case avatarPNG:
		tiff = pngEXIF(data)
	case avatarWebP:
		tiff = webpEXIF(data)
	}
	return tiffOrientation(tiff)
}

// exifHeader opens the APP1 segment that holds EXIF in a JPEG (and, by
// some writers' habit, a WebP EXIF chunk too).
var exifHeader = []byte("Exif\x00\x00")

// jpegEXIF returns the TIFF structure of a JPEG's first EXIF APP1 segment,
// or nil. It walks the marker segments up to the first scan, where
// metadata ends; each step moves forward, so the walk is linear in the
// input.
func jpegEXIF(data []byte) []byte {
	i := 2 // after SOI
	for i+4 <= len(data) {
		if data[i] != 0xff {
			return nil
		}
		marker := data[i+1]
		switch {
		case marker == 0xff: // fill byte before a marker
			i++
			continue
		case marker == 0x01, marker >= 0xd0 && marker <= 0xd8: // TEM, RSTn, SOI: no length
			i += 2
			continue
		case marker == 0xda, marker == 0xd9: // SOS, EOI
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:])) // counts its own two bytes
		if n < 2 || i+2+n > len(data) {
			return nil
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xe1 && bytes.HasPrefix(seg, exifHeader) {
			return seg[len(exifHeader):]
		}
		i += 2 + n
	}
	return nil
}

// pngEXIF returns the data of a PNG's eXIf chunk before the image data,
// or nil (an eXIf after IDAT is ignored by decoders and by us).
func pngEXIF(data []byte) []byte {
	i := 8 // after the signature
	for i+8 <= len(data) {
		n := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if n < 0 || n > len(data)-i-12 { // length, type, data, CRC
			return nil
		}
		switch typ {
		case "eXIf":
			return data[i+8 : i+8+n]
		case "IDAT", "IEND":
			return nil
		}
		i += 12 + n
	}
	return nil
}

// webpEXIF returns the data of an extended WebP's EXIF chunk, or nil.
func webpEXIF(data []byte) []byte {
	i := 12 // after "RIFF", the size and "WEBP"
	for i+8 <= len(data) {
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data)-i-8 {
			return nil
		}
		if string(data[i:i+4]) == "EXIF" {
			// The specification stores bare TIFF; some writers copy the
			// JPEG segment's header along.
			return bytes.TrimPrefix(data[i+8:i+8+n], exifHeader)
		}
		i += 8 + n + n&1 // chunks are padded to an even length
	}
	return nil
}

// tiffOrientation reads tag 0x0112 from IFD0 of an EXIF TIFF structure:
// a byte-order mark ("II" little-endian, "MM" big-endian), 42, the offset
// of IFD0; then a count of 12-byte entries, each a tag, a type, a count
// and a value (inline when it fits in four bytes, as one SHORT does).
// Anything out of bounds, of the wrong type or outside 1–8 is
// orientNormal.
func tiffOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return orientNormal
	}
	var order binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return orientNormal
	}
	if order.Uint16(tiff[2:]) != 42 {
		return orientNormal
	}
	ifd := order.Uint32(tiff[4:])
	if ifd < 8 || uint64(ifd)+2 > uint64(len(tiff)) {
		return orientNormal
	}
	entries := int(order.Uint16(tiff[ifd:]))
	for k := range entries {
		e := int(ifd) + 2 + 12*k
		if e+12 > len(tiff) {
			break
		}
		if order.Uint16(tiff[e:]) != exifOrientationTag {
			continue
		}
		const typeShort = 3
		if order.Uint16(tiff[e+2:]) != typeShort || order.Uint32(tiff[e+4:]) != 1 {
			return orientNormal
		}
		if v := int(order.Uint16(tiff[e+8:])); v >= orientNormal && v <= orientRotate90CCW {
			return v
		}
		return orientNormal
	}
	return orientNormal
}
