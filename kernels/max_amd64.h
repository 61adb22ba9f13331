// MAX16 folds the maxima of 16 lanes, Y0 (lanes 0-7) and Y1 (8-15), into
// lane 0 of X0, overwriting Y1. Shared by kernels_amd64.s and int8_amd64.s.
#define MAX16 \
	VMAXPS       Y1, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VMAXPS       X1, X0, X0 \
	VPERMILPS    $0x4e, X0, X1 \
	VMAXPS       X1, X0, X0 \
	VPERMILPS    $0xb1, X0, X1 \
	VMAXPS       X1, X0, X0
