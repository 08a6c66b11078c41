package augment

import (
	"math"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Params
		want []string // substrings of the error; none means valid
	}{
		{"zero", Params{}, nil},
		{"typical", Params{RotationRange: 20, WidthShiftRange: 0.1, HeightShiftRange: 0.1, ShearRange: 10,
			ZoomRange: ZoomRangeOf(0.2), HorizontalFlip: true, BrightnessRange: [2]float64{0.8, 1.2},
			FillMode: FillReflect, Rescale: 1. / 255}, nil},
		{"pixel shifts", Params{WidthShiftRange: 12, HeightShiftRange: 3}, nil},
		{"zoom one", Params{ZoomRange: [2]float64{1, 1}}, nil},
		{"negative rotation", Params{RotationRange: -5}, []string{"rotation_range -5"}},
		{"nan shift", Params{WidthShiftRange: math.NaN()}, []string{"width_shift_range NaN"}},
		{"inf shear", Params{ShearRange: math.Inf(1)}, []string{"shear_range +Inf"}},
		{"zoom z=1", Params{ZoomRange: ZoomRangeOf(1)}, []string{"zoom_range [0 2]", "lower bound must be > 0"}},
		{"zoom reversed", Params{ZoomRange: [2]float64{1.2, 0.8}}, []string{"exceeds upper"}},
		{"brightness negative", Params{BrightnessRange: [2]float64{-0.5, 1}}, []string{"brightness_range", ">= 0"}},
		{"brightness reversed", Params{BrightnessRange: [2]float64{1.5, 0.5}}, []string{"exceeds upper"}},
		{"fill", Params{FillMode: "mirror"}, []string{`fill_mode "mirror"`}},
		{"cval", Params{Cval: math.NaN()}, []string{"cval NaN"}},
		{"channel shift negative", Params{ChannelShiftRange: -3}, []string{"channel_shift_range -3"}},
		{"channel shift inf", Params{ChannelShiftRange: math.Inf(1)}, []string{"channel_shift_range +Inf"}},
		{"several at once", Params{RotationRange: -1, FillMode: "edge"}, []string{"rotation_range", "fill_mode"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestParseParams(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Params
		wantErr string
	}{
		{in: "", want: Params{}},
		{
			in: "rotation_range=20, width_shift_range=0.1, height_shift_range=0.1,\n" +
				"shear_range=0.2, zoom_range=0.2, horizontal_flip=True, fill_mode='nearest', rescale=1./255",
			want: Params{RotationRange: 20, WidthShiftRange: 0.1, HeightShiftRange: 0.1, ShearRange: 0.2,
				ZoomRange: [2]float64{0.8, 1.2}, HorizontalFlip: true, FillMode: FillNearest, Rescale: 1. / 255},
		},
		{
			in: "zoom_range=(0.9, 1.3), brightness_range=[0.5,1.5], vertical_flip=false, fill_mode=\"constant\", cval=7, legacy112=true",
			want: Params{ZoomRange: [2]float64{0.9, 1.3}, BrightnessRange: [2]float64{0.5, 1.5},
				FillMode: FillConstant, Cval: 7, Legacy112: true},
		},
		{in: "brightness_range=None, rescale=None, zoom_range=0", want: Params{}},
		{in: "channel_shift_range=25.5, rescale=1./255", want: Params{ChannelShiftRange: 25.5, Rescale: 1. / 255}},
		{in: "channel_shift_range=[10, 20]", wantErr: "channel_shift_range"},
		{in: "width_shift_range=[-1, 0, 1]", wantErr: "list form"},
		{in: "rotation=20", wantErr: "unknown key"},
		{in: "rotation_range=20, rotation_range=30", wantErr: "given twice"},
		{in: "rotation_range", wantErr: "want key=value"},
		{in: "zoom_range=[0.8, 0.9, 1.0]", wantErr: "exactly two"},
		{in: "horizontal_flip=yes", wantErr: "True or False"},
		{in: "rescale=1/0", wantErr: "division by zero"},
		{in: "zoom_range=1.5", wantErr: "lower bound must be > 0"},
		{in: "fill_mode=edge", wantErr: "fill_mode"},
	} {
		got, err := ParseParams(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseParams(%q) error = %v, want one mentioning %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseParams(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseParams(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, p := range []Params{
		{},
		{RotationRange: 12.5, WidthShiftRange: 0.15, HeightShiftRange: 4, ShearRange: 3,
			ZoomRange: [2]float64{0.75, 1.1}, HorizontalFlip: true, VerticalFlip: true,
			ChannelShiftRange: 30, BrightnessRange: [2]float64{0.3, 1.7}, FillMode: FillWrap, Cval: -2,
			Rescale: 1. / 255, Legacy112: true},
		{FillMode: FillConstant, Cval: 0.1},
	} {
		s := p.String()
		back, err := ParseParams(s)
		if err != nil {
			t.Fatalf("ParseParams(%q): %v", s, err)
		}
		if back != p {
			t.Errorf("round trip through %q\n got %+v\nwant %+v", s, back, p)
		}
	}
}
