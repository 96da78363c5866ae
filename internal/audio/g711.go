package audio

// G.711 expansion tables (ITU-T G.711, as in the classic Sun reference g711.c): telephone
// recordings and voicemail exported from PBXs are often A-law or µ-law WAVs.
var alawToLinear, mulawToLinear [256]int16

func init() {
	for i := range 256 {
		alawToLinear[i] = alawDecode(byte(i))
		mulawToLinear[i] = mulawDecode(byte(i))
	}
}

func alawDecode(a byte) int16 {
	a ^= 0x55
	t := int16(a&0x0F) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return t
	}
	return -t
}

func mulawDecode(u byte) int16 {
	u = ^u
	t := (int16(u&0x0F)<<3 + 0x84) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return 0x84 - t
	}
	return t - 0x84
}
