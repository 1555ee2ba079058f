#include <cstdio>
int main() { std::puts("calibr8"); return 0; }
