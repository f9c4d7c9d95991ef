#include <iostream>

int main() {
  std::cerr << "stepwise: command line not built yet\n";
  return 2;
}
