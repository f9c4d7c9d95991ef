// stepwise: the command line. A thin table of subcommands over the engine.
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"

int main(int argc, char** argv) {
  using namespace stepwise::cli;
  CLI::App app{"Stepwise: run AWS Step Functions (Amazon States Language) workflows on one machine."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("stepwise 0.1.0"));
  std::map<std::string, Command> commands;
  commands["validate"] = add_validate(app);
  commands["run"] = add_run(app);
  add_store_commands(app, commands);
  commands["worker"] = add_worker(app);
  commands["invoke"] = add_invoke(app);
  commands["functions"] = add_functions(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  for (auto* sub : app.get_subcommands()) {
    auto it = commands.find(sub->get_name());
    if (it != commands.end()) return it->second();
  }
  return kExitUsage;
}
