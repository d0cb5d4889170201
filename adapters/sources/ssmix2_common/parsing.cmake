sennen_module(sennen_ssmix2_parsing SOURCES naming.cpp hl7_header.cpp PUBLIC_DEPS sennen_util)
