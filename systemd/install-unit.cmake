# Runs at install time (cmake --install): writes ukeyd.service from its
# template with the paths of this installation, so that ExecStart names the
# ukeyd that was just installed, whatever --prefix or DESTDIR is used.
# Set by the install(CODE) before it: UKEY_UNIT_TEMPLATE, UKEY_UNIT_DIR,
# UKEY_UNIT_BINDIR, UKEY_UNIT_DOCDIR (relative to the prefix, or absolute),
# UKEY_UNIT_CONFIG (empty, or the configuration file ukeyd is given with
# --config: UKEY_CONFIG_FILE).

foreach(_var BINDIR DOCDIR)
  if(IS_ABSOLUTE "${UKEY_UNIT_${_var}}")
    set(CMAKE_INSTALL_FULL_${_var} "${UKEY_UNIT_${_var}}")
  else()
    set(CMAKE_INSTALL_FULL_${_var} "${CMAKE_INSTALL_PREFIX}/${UKEY_UNIT_${_var}}")
  endif()
endforeach()
if(UKEY_UNIT_CONFIG)
  set(UKEY_UNIT_CONFIG_ARG " --config ${UKEY_UNIT_CONFIG}")
else()
  set(UKEY_UNIT_CONFIG_ARG "")
endif()
if(IS_ABSOLUTE "${UKEY_UNIT_DIR}")
  set(_unit "${UKEY_UNIT_DIR}/ukeyd.service")
else()
  set(_unit "${CMAKE_INSTALL_PREFIX}/${UKEY_UNIT_DIR}/ukeyd.service")
endif()
message(STATUS "Installing: $ENV{DESTDIR}${_unit}")
configure_file("${UKEY_UNIT_TEMPLATE}" "$ENV{DESTDIR}${_unit}" @ONLY)
# the manifest lists paths without DESTDIR, as install(FILES) records them
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_unit}")
