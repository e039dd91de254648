// CImageCodecs: libpng and libjpeg headers. jpeglib.h is not self-contained: stdio first.
#ifndef CIMAGECODECS_SHIM_H
#define CIMAGECODECS_SHIM_H
#include <stdio.h>
#include <stddef.h>
#include <png.h>
#include <jpeglib.h>
#endif
