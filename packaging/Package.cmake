# The Debian package (`make package`, or cpack -G DEB in the build directory): the programs
# under /usr/bin, the web client under /usr/share/chatrix/web, the documentation, and what a
# system service needs (packaging/: the systemd unit, /etc/chatrix/chatrix.env, the
# maintainer scripts). Included last from the top-level CMakeLists.txt, once every install()
# rule exists.

# Absolute paths, so never part of `make install` (a PREFIX such as /usr/local or $HOME would
# still write to /lib and /etc): EXCLUDE_FROM_ALL keeps them to installs of their component,
# which only the package asks for.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/chatrix.service DESTINATION /lib/systemd/system
        COMPONENT service EXCLUDE_FROM_ALL)
# Settings may include JWT_SECRET or a database password; systemd reads the file as root.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/chatrix.env DESTINATION /etc/chatrix
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
        COMPONENT service EXCLUDE_FROM_ALL)

set(CHATRIX_PACKAGE_MAINTAINER "Chatrix maintainers <maintainers@chatrix.invalid>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME chatrix)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${CHATRIX_PACKAGE_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_NAME chatrix)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "real-time 1:1 chat server with a built-in web client")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Chatrix holds WebSocket connections from chat clients, stores every message durably
(SQLite, or PostgreSQL for a cluster of nodes joined through Redis) and reports each one
as stored, delivered and read. The package runs it as the chatrix system service with its
data in /var/lib/chatrix and serves the web client at /.")
if(TARGET chatrix-cli)
  string(APPEND CPACK_DEBIAN_PACKAGE_DESCRIPTION "\nchatrix-cli talks to a server from the command line.")
endif()
# Depends from the libraries the programs link (dpkg-shlibdeps), plus adduser for the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/conffiles
    ${CMAKE_CURRENT_LIST_DIR}/postinst
    ${CMAKE_CURRENT_LIST_DIR}/prerm
    ${CMAKE_CURRENT_LIST_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# One package from every install component but the load generator: chatrix-bench is a
# development tool (it floods a server with synthetic users) that an operator's machine does
# not need, and leaving it out keeps the package the same whether the build had the tools on.
get_cmake_property(CPACK_COMPONENTS_ALL COMPONENTS)
list(REMOVE_ITEM CPACK_COMPONENTS_ALL bench)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
include(CPack)
