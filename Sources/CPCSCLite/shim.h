#include <winscard.h>
#include <wintypes.h>
#include <pcsclite.h>
#include <reader.h>
