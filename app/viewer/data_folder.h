#pragma once
// Where the viewer writes the files it names itself (sweep and bench results, sessions): a
// per-user data folder, $XDG_DATA_HOME/fma-viewer (else ~/.local/share/fma-viewer), not the
// working directory, which is the source tree when run from a checkout (issue 21 point 6).

#include <string>

namespace fmav::viewer {

// The data folder for these environment values (XDG Base Directory rules: an XDG_DATA_HOME
// that is empty or relative is ignored); "" when neither gives one. Does not create it.
std::string data_folder_for(const char* xdg_data_home, const char* home);
// The data folder of this process's environment ("" when it has none).
std::string data_folder();
// `name` where the viewer writes it: an absolute path as given; a relative one inside the
// data folder (or the working directory when there is none), normalised. Creates nothing.
std::string data_path(const std::string& name);
// Creates the folder `path` is in when missing; throws fmav::Error naming it and why it
// could not be created.
void make_parent_folder(const std::string& path);

}  // namespace fmav::viewer
