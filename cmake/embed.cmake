# Turns a binary file into a C++ array: cmake -DIN=file -DOUT=file.cc -DSYMBOL=name -P embed.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "#include <cstddef>\nextern const unsigned char ${SYMBOL}[] = {${body}};\nextern const size_t ${SYMBOL}_size = ${bytes};\n")
